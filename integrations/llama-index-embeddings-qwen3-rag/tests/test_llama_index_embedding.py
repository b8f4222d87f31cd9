"""Qwen3Embedding for LlamaIndex: exact equality with the runtime, one request per call, native async."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import llama_index.embeddings.qwen3_rag as package
import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.embeddings.qwen3_rag import Qwen3Embedding

from integrations.tests.adapter_support import (
    assert_pep420_layout,
    check_concurrent_queries_coalesce,
    forbid_sync_calls,
)
from qwen3_rag import InvalidOptionError, Qwen3Embedder
from tests.support.texts import QUERY, TEXTS

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def embedder(tiny_embedding_path: str) -> Qwen3Embedder:
    return Qwen3Embedder.load(tiny_embedding_path)


@pytest.fixture(scope="module")
def embed_model(tiny_embedding_path: str) -> Qwen3Embedding:
    return Qwen3Embedding(model_name=tiny_embedding_path)


def _f32(vectors: Any) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float32)


def test_public_api_is_pinned() -> None:
    assert package.__all__ == ["Qwen3Embedding"]
    assert issubclass(Qwen3Embedding, BaseEmbedding)
    assert Qwen3Embedding.class_name() == "Qwen3Embedding"


def test_pep420_namespace_packages() -> None:
    assert_pep420_layout(PACKAGE_ROOT, package, "embeddings")


def test_every_batch_and_async_hook_is_overridden() -> None:
    for hook in (
        "_get_query_embedding",
        "_aget_query_embedding",
        "_get_text_embedding",
        "_aget_text_embedding",
        "_get_text_embeddings",
        "_aget_text_embeddings",
    ):
        assert hook in vars(Qwen3Embedding), hook


def test_query_and_text_equal_runtime_exactly(embed_model: Qwen3Embedding, embedder: Qwen3Embedder) -> None:
    query = embed_model.get_query_embedding(QUERY)
    assert isinstance(query, list) and isinstance(query[0], float)
    np.testing.assert_array_equal(_f32(query), embedder.embed_queries([QUERY])[0])
    text = embed_model.get_text_embedding(QUERY)
    np.testing.assert_array_equal(_f32(text), embedder.embed_documents([QUERY])[0])
    assert query != embed_model.get_text_embedding(QUERY), "queries get the instruction, texts none"
    batch = embed_model.get_text_embedding_batch(TEXTS)
    np.testing.assert_array_equal(_f32(batch), embedder.embed_documents(TEXTS))


def test_a_batch_call_is_one_runtime_request(embed_model: Qwen3Embedding, embedder: Qwen3Embedder) -> None:
    stats = embedder.runtime.batcher.stats
    before = stats.requests
    embed_model.get_text_embedding_batch(TEXTS * 10)
    assert stats.requests == before + 1


async def test_async_equals_runtime_and_is_native(
    embed_model: Qwen3Embedding, embedder: Qwen3Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_docs = embedder.embed_documents(TEXTS)
    expected_query = embedder.embed_queries([QUERY])[0]
    expected_single = embedder.embed_documents([TEXTS[0]])[0]

    forbid_sync_calls(monkeypatch, Qwen3Embedder, "embed_documents", "embed_queries")
    stats = embedder.runtime.batcher.stats
    before = stats.requests
    np.testing.assert_array_equal(_f32(await embed_model.aget_query_embedding(QUERY)), expected_query)
    np.testing.assert_array_equal(_f32(await embed_model.aget_text_embedding(TEXTS[0])), expected_single)
    np.testing.assert_array_equal(_f32(await embed_model.aget_text_embedding_batch(TEXTS)), expected_docs)
    assert stats.requests == before + 3


async def test_concurrent_async_queries_are_coalesced(
    embed_model: Qwen3Embedding, embedder: Qwen3Embedder
) -> None:
    await check_concurrent_queries_coalesce(embedder, embed_model.aget_query_embedding)


def test_options(tiny_embedding_path: str, embedder: Qwen3Embedder) -> None:
    task = "Retrieve semantically similar text"
    model = Qwen3Embedding(model_name=tiny_embedding_path, dimensions=32, query_instruction=task)
    assert model.dimensions == 32
    expected = Qwen3Embedder(embedder.runtime, dimensions=32).embed_queries([QUERY], instruction=task)[0]
    np.testing.assert_array_equal(_f32(model.get_query_embedding(QUERY)), expected)
    assert Qwen3Embedding(model_name=tiny_embedding_path).dimensions == embedder.hidden_size


def test_accepts_loaded_embedder(embedder: Qwen3Embedder) -> None:
    model = Qwen3Embedding(embedder)
    assert model.embedder is embedder
    assert model.model_name == embedder.model_name
    view = Qwen3Embedding(model_name=embedder, dimensions=48)
    assert view.embedder.model is embedder.model and view.dimensions == 48
    with pytest.raises(InvalidOptionError, match="device"):
        Qwen3Embedding(embedder, device="cpu")
    with pytest.raises(InvalidOptionError, match="quantize"):
        Qwen3Embedding(embedder, quantize="int8")


def test_quantize_reaches_the_runtime(tiny_embedding_path: str) -> None:
    model = Qwen3Embedding(model_name=tiny_embedding_path, device="cpu", quantize="int8")
    assert model.embedder.runtime.quantize == "int8" and model.quantize == "int8"


def test_building_after_first_load_takes_milliseconds(
    tiny_embedding_path: str, embedder: Qwen3Embedder
) -> None:
    start = time.perf_counter()
    model = Qwen3Embedding(model_name=tiny_embedding_path)
    elapsed = time.perf_counter() - start
    assert model.embedder.model is embedder.model
    assert elapsed < 0.25, f"building an adapter for a loaded model took {elapsed:.3f}s"


def test_serialisation_round_trip(embed_model: Qwen3Embedding) -> None:
    data = embed_model.to_dict()
    assert data["class_name"] == "Qwen3Embedding"
    again = Qwen3Embedding.from_dict(data)
    assert again.embedder.model is embed_model.embedder.model
    assert again.get_query_embedding(QUERY) == embed_model.get_query_embedding(QUERY)
