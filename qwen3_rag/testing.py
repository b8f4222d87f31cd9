"""Tiny random-weight Qwen3 checkpoints for tests and offline smoke runs.

``write_tiny_checkpoints(DIR)`` (or ``python -m qwen3_rag.testing DIR``) writes
``DIR/embedding`` and ``DIR/reranker``: real Qwen3 architectures (2 layers, hidden 64) with a
small byte-level BPE tokenizer built the way Qwen's is (same normaliser, split regex, byte-level
pre-tokeniser and special tokens, left padding). Only the embedding tokenizer carries the
``<|endoftext|>`` post-processor, as the published Qwen3-Embedding tokenizer does; pass
``embedding_appends_eos=False`` to get the older kind without it. Nothing is downloaded.

The default attention head size is 16. Engines with fixed attention kernels need more: vLLM's
CPU attention takes head_dim in {32, 64, 80, 96, 112, 128, ...}, so pass ``head_dim=32`` (or
``--head-dim 32``) for a checkpoint vLLM can serve; everything else stays tiny (hidden 64,
4 heads, 2 KV heads), and the default output is unchanged.

The weights are random, so vectors and scores are meaningless, but every code path (prompt
formatting, truncation, padding, pooling, yes/no readout) is the real one.

``convert_reranker_to_sequence_classifier(SRC, DST)`` makes the widely used
sequence-classification conversion of a causal Qwen3-Reranker folder (tiny or real): a
``Qwen3ForSequenceClassification`` with one label whose head is the LM head's "yes" row minus its
"no" row, which ``Qwen3Reranker`` loads with the same scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["convert_reranker_to_sequence_classifier", "write_tiny_checkpoints", "write_tiny_tokenizer"]

QWEN_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

# A fixed training text: the prompt words the runtime uses plus ordinary English, so prompts
# tokenize into a realistic mix of whole words and pieces. "yes" and "no" must be single tokens.
_CORPUS = [
    "Judge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".',
    "Instruct: Given a web search query, retrieve relevant passages that answer the query",
    "Query: what is the capital of France? Document: Paris is the capital and largest city.",
    "system user assistant think yes no yes no yes no",
    "The quick brown fox jumps over the lazy dog. Retrieval augmented generation combines a "
    "retriever with a generator. Vectors, embeddings, rerankers and search engines.",
    "Python is a programming language. Qdrant is a vector database. Numbers 0 1 2 3 4 5 6 7 8 9.",
]


def _build_tokenizer_json(vocab_size: int, append_eos: bool) -> str:
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer=trainer)
    # Special tokens come after the learned vocabulary, as in Qwen's (151643 and up).
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    if append_eos:
        eos_id = tokenizer.token_to_id("<|endoftext|>")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="$A:0 <|endoftext|>:0",
            pair="$A:0 <|endoftext|>:0 $B:1 <|endoftext|>:1",
            special_tokens=[("<|endoftext|>", eos_id)],
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer.to_str()


def write_tiny_tokenizer(folder: Path, vocab_size: int, append_eos: bool) -> int:
    """Write only the tokenizer files of a tiny checkpoint into ``folder`` (no model is built):
    ``append_eos`` for the embedding tokenizer's trailing ``<|endoftext|>``. Returns its vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer_json = _build_tokenizer_json(vocab_size, append_eos)
    (folder / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "padding_side": "left",
        "add_bos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 32768,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return len(json.loads(tokenizer_json)["model"]["vocab"]) + len(SPECIAL_TOKENS)


def _tiny_config(vocab_size: int, tokenizer_vocab: int, seed_kind: str, head_dim: int = 16) -> object:
    from transformers import Qwen3Config

    return Qwen3Config(  # type: ignore[call-arg]  # rope_theta is folded into rope_parameters
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=head_dim,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        pad_token_id=tokenizer_vocab - len(SPECIAL_TOKENS),
        eos_token_id=tokenizer_vocab - len(SPECIAL_TOKENS) + 2,
        architectures=["Qwen3ForCausalLM"],
    )


def write_tiny_checkpoints(
    directory: str | Path,
    *,
    seed: int = 0,
    embedding_appends_eos: bool = True,
    vocab_size: int = 512,
    head_dim: int = 16,
) -> dict[str, Path]:
    """Write ``embedding`` and ``reranker`` tiny checkpoints under ``directory``.

    Returns ``{"embedding": path, "reranker": path}``. Deterministic for a given ``seed``.
    The embedding model is saved as a bare ``Qwen3Model`` (as Qwen3-Embedding is published),
    the reranker as ``Qwen3ForCausalLM`` (as Qwen3-Reranker is). ``head_dim`` is the attention
    head size (default 16; vLLM's CPU attention needs 32 or more, see the module docstring).
    """
    if isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 2 or head_dim % 2:
        raise ValueError(f"head_dim must be an even int >= 2 (rotary halves), got {head_dim!r}.")
    import torch
    from transformers import Qwen3ForCausalLM, Qwen3Model

    root = Path(directory)
    paths = {"embedding": root / "embedding", "reranker": root / "reranker"}
    for kind, folder in paths.items():
        appends = embedding_appends_eos if kind == "embedding" else False
        tokenizer_vocab = write_tiny_tokenizer(folder, vocab_size, appends)
        config = _tiny_config(tokenizer_vocab, tokenizer_vocab, kind, head_dim)
        torch.manual_seed(seed + (0 if kind == "embedding" else 1))
        model_cls = Qwen3Model if kind == "embedding" else Qwen3ForCausalLM
        model = model_cls(config)  # type: ignore[arg-type]
        # Random init keeps tiny weights tiny; scale up so outputs differ clearly per input.
        with torch.no_grad():
            for param in model.parameters():
                param.normal_(0.0, 0.2)
        model.save_pretrained(folder)
    return paths


def convert_reranker_to_sequence_classifier(
    source: str | Path, destination: str | Path, *, head: str = "yes-minus-no"
) -> Path:
    """Write the one-logit sequence-classification conversion of the causal reranker in ``source``.

    The decoder weights are copied as they are; the head ``score.weight`` (shape ``(1, hidden)``)
    is ``lm_head[yes] - lm_head[no]``, so the classifier's logit at the last token is
    ``logit(yes) - logit(no)`` and its sigmoid the official P(yes). Tokenizer files are copied
    byte for byte. ``head="random"`` writes a one-label classifier with another head (for tests of
    the refusal). Returns ``destination``.
    """
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3ForSequenceClassification

    source, destination = Path(source), Path(destination)
    tokenizer = AutoTokenizer.from_pretrained(source)
    causal = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    yes, no = (int(tokenizer.convert_tokens_to_ids(t)) for t in ("yes", "no"))  # type: ignore[arg-type]
    config = causal.config.__class__.from_dict(causal.config.to_dict())
    config.num_labels = 1
    config.architectures = ["Qwen3ForSequenceClassification"]
    classifier = Qwen3ForSequenceClassification(config)
    classifier.model.load_state_dict(causal.model.state_dict())
    with torch.no_grad():
        rows = causal.get_output_embeddings().weight
        if head == "yes-minus-no":
            classifier.score.weight.copy_((rows[yes] - rows[no]).unsqueeze(0))
        elif head == "random":
            classifier.score.weight.normal_(0.0, 0.2)
        else:
            raise ValueError(f"head={head!r}; valid: 'yes-minus-no', 'random'.")
    classifier.save_pretrained(destination)
    for file in source.iterdir():
        if file.is_file() and file.name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            shutil.copy2(file, destination / file.name)
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qwen3_rag.testing",
        description="Write tiny random-weight Qwen3 embedding and reranker checkpoints (offline).",
    )
    parser.add_argument("directory", help="folder to write DIR/embedding and DIR/reranker into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-eos-postprocessor",
        action="store_true",
        help="write the older embedding tokenizer that does not append <|endoftext|>",
    )
    parser.add_argument(
        "--head-dim",
        type=int,
        default=16,
        help="attention head size (default 16; 32 or more for vLLM's CPU attention)",
    )
    args = parser.parse_args(argv)
    paths = write_tiny_checkpoints(
        args.directory,
        seed=args.seed,
        embedding_appends_eos=not args.no_eos_postprocessor,
        head_dim=args.head_dim,
    )
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
