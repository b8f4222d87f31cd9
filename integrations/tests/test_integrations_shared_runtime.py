"""One set of weights per model across every framework: LangChain's and LlamaIndex's adapters
and ``qwen3_rag.Qwen3Embedder.load`` share the loaded model (identity, storage and memory)."""

from __future__ import annotations

import gc
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

langchain_qwen3_rag = pytest.importorskip("langchain_qwen3_rag")
li_embeddings = pytest.importorskip("llama_index.embeddings.qwen3_rag")
li_rerank = pytest.importorskip("llama_index.postprocessor.qwen3_rag_rerank")

from qwen3_rag import Qwen3Embedder, Qwen3Reranker  # noqa: E402
from qwen3_rag._runtime import loaded_models  # noqa: E402

pytestmark = pytest.mark.models  # every test here builds or loads a model


def _weights(model: Any) -> list[Any]:
    """Parameters and buffers: on CPU in float32 the decoder's linear weights are oneDNN buffers."""
    return [*model.parameters(), *model.buffers()]


def _storage_ptrs(model: Any) -> set[int]:
    # oneDNN tensors have no storage pointer; the tensor object itself is what is shared.
    return {id(t) if t.is_mkldnn else t.untyped_storage().data_ptr() for t in _weights(model)}


def _param_bytes(model: Any) -> int:
    return sum(t.numel() * t.element_size() for t in _weights(model))


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture(scope="module")
def larger_embedding_path(
    tiny_embedding_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The tiny checkpoint's tokenizer with a wider random model (~70 MB in fp32), so
    that a second copy of the weights would stand far above the noise of the RSS measure."""
    import torch
    from transformers import AutoConfig, Qwen3Model

    source = Path(tiny_embedding_path)
    folder = tmp_path_factory.mktemp("larger-embedding")
    for item in source.iterdir():
        if item.name != "config.json" and item.suffix != ".safetensors":
            shutil.copy(item, folder / item.name)  # the tokenizer files
    config = AutoConfig.from_pretrained(source)
    config.update(
        {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_key_value_heads": 4,
            "head_dim": 64,
        }
    )
    torch.manual_seed(0)
    Qwen3Model(config).save_pretrained(folder)
    yield str(folder)
    for loaded in loaded_models():  # free the larger model for the rest of the session
        if Path(loaded.folder) == folder.resolve():
            loaded.close()


def _assert_one_model(lc: Any, li: Any, runtime: Qwen3Embedder | Qwen3Reranker) -> None:
    """The LangChain and the LlamaIndex adapter run on the runtime's own model and micro-batcher."""
    assert lc.model is li.model is runtime.model
    assert lc.runtime.batcher is li.runtime.batcher is runtime.runtime.batcher


def test_embedders_share_one_model_across_frameworks(tiny_embedding_path: str) -> None:
    runtime = Qwen3Embedder.load(tiny_embedding_path)
    lc = langchain_qwen3_rag.Qwen3Embeddings(model=tiny_embedding_path)
    li = li_embeddings.Qwen3Embedding(model_name=tiny_embedding_path)
    _assert_one_model(lc.embedder, li.embedder, runtime)
    assert _storage_ptrs(lc.embedder.model) == _storage_ptrs(runtime.model)


def test_rerankers_share_one_model_across_frameworks(tiny_reranker_path: str) -> None:
    runtime = Qwen3Reranker.load(tiny_reranker_path)
    lc = langchain_qwen3_rag.Qwen3Rerank(model=tiny_reranker_path)
    li = li_rerank.Qwen3Rerank(model=tiny_reranker_path)
    _assert_one_model(lc.reranker, li.reranker, runtime)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmRSS from /proc")
def test_more_adapters_cost_no_model_memory(larger_embedding_path: str) -> None:
    gc.collect()
    before_load = _rss_bytes()
    runtime = Qwen3Embedder.load(larger_embedding_path, dtype="float32")
    weights = _param_bytes(runtime.model)
    assert weights > 50_000_000
    runtime.embed_queries(["warm up"])  # the same forward pass the adapters run below
    gc.collect()
    after_load = _rss_bytes()

    start = time.perf_counter()
    lc = langchain_qwen3_rag.Qwen3Embeddings(model=larger_embedding_path, dtype="float32")
    li = li_embeddings.Qwen3Embedding(model_name=larger_embedding_path, dtype="float32")
    elapsed = time.perf_counter() - start
    lc.embed_query("warm up")
    li.get_query_embedding("warm up")
    gc.collect()
    after_adapters = _rss_bytes()

    assert lc.embedder.model is li.embedder.model is runtime.model
    assert _storage_ptrs(lc.embedder.model) | _storage_ptrs(li.embedder.model) == _storage_ptrs(runtime.model)
    growth = after_adapters - after_load
    assert growth < weights * 0.15, (
        f"building two more adapters grew RSS by {growth / 1e6:.1f} MB for a model of {weights / 1e6:.1f} MB "
        f"(the first load grew it by {(after_load - before_load) / 1e6:.1f} MB)"
    )
    assert elapsed < 0.5, f"building two adapters for a loaded model took {elapsed:.3f}s"
