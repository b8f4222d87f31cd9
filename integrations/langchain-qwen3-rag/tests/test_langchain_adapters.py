"""Qwen3Embeddings and Qwen3Rerank: exact equality with the runtime, options, native async."""

from __future__ import annotations

import time

import langchain_qwen3_rag
import numpy as np
import pytest
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.embeddings import Embeddings
from langchain_qwen3_rag import Qwen3Embeddings, Qwen3Rerank

from integrations.tests.adapter_support import check_concurrent_queries_coalesce, forbid_sync_calls
from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from tests.support.texts import QUERY, TEXTS


@pytest.fixture(scope="module")
def embedder(tiny_embedding_path: str) -> Qwen3Embedder:
    return Qwen3Embedder.load(tiny_embedding_path)


@pytest.fixture(scope="module")
def reranker(tiny_reranker_path: str) -> Qwen3Reranker:
    return Qwen3Reranker.load(tiny_reranker_path)


@pytest.fixture(scope="module")
def embeddings(tiny_embedding_path: str) -> Qwen3Embeddings:
    return Qwen3Embeddings(model=tiny_embedding_path)


@pytest.fixture(scope="module")
def rerank(tiny_reranker_path: str) -> Qwen3Rerank:
    return Qwen3Rerank(model=tiny_reranker_path, top_n=3)


def _docs() -> list[Document]:
    return [Document(page_content=t, metadata={"n": i}, id=f"doc-{i}") for i, t in enumerate(TEXTS)]


def test_public_api_is_pinned() -> None:
    assert langchain_qwen3_rag.__all__ == [
        "Qwen3Embeddings",
        "Qwen3RagQdrantVectorStore",
        "Qwen3RagRetriever",
        "Qwen3RagVectorStore",
        "Qwen3Rerank",
        "Qwen3SparseEmbeddings",
    ]
    for name in langchain_qwen3_rag.__all__:  # the langchain-qdrant ones are imported on first use
        assert getattr(langchain_qwen3_rag, name).__name__ == name
    assert issubclass(Qwen3Embeddings, Embeddings)
    assert issubclass(Qwen3Rerank, BaseDocumentCompressor)


# ------------------------------------------------------------------ embeddings
def test_documents_equal_runtime_exactly(embeddings: Qwen3Embeddings, embedder: Qwen3Embedder) -> None:
    got = embeddings.embed_documents(TEXTS)
    assert isinstance(got, list) and all(isinstance(v, list) for v in got)
    assert all(isinstance(x, float) for x in got[0])
    np.testing.assert_array_equal(np.asarray(got, dtype=np.float32), embedder.embed_documents(TEXTS))


def test_query_gets_instruction_documents_do_not(
    embeddings: Qwen3Embeddings, embedder: Qwen3Embedder
) -> None:
    query = embeddings.embed_query(QUERY)
    np.testing.assert_array_equal(np.asarray(query, dtype=np.float32), embedder.embed_queries([QUERY])[0])
    assert query != embeddings.embed_documents([QUERY])[0]


def test_query_instruction_option(tiny_embedding_path: str, embedder: Qwen3Embedder) -> None:
    task = "Retrieve semantically similar text"
    adapter = Qwen3Embeddings(model=tiny_embedding_path, query_instruction=task)
    expected = embedder.embed_queries([QUERY], instruction=task)[0]
    np.testing.assert_array_equal(np.asarray(adapter.embed_query(QUERY), dtype=np.float32), expected)


def test_dimensions_option(tiny_embedding_path: str, embedder: Qwen3Embedder) -> None:
    adapter = Qwen3Embeddings(model=tiny_embedding_path, dimensions=32)
    assert adapter.dimensions == 32
    got = np.asarray(adapter.embed_documents(TEXTS), dtype=np.float32)
    assert got.shape == (len(TEXTS), 32)
    expected = Qwen3Embedder(embedder.runtime, dimensions=32).embed_documents(TEXTS)
    np.testing.assert_array_equal(got, expected)


def test_full_size_is_reported(embeddings: Qwen3Embeddings, embedder: Qwen3Embedder) -> None:
    assert embeddings.dimensions == embedder.hidden_size


async def test_async_equals_runtime(embeddings: Qwen3Embeddings, embedder: Qwen3Embedder) -> None:
    docs = await embeddings.aembed_documents(TEXTS)
    np.testing.assert_array_equal(np.asarray(docs, dtype=np.float32), embedder.embed_documents(TEXTS))
    query = await embeddings.aembed_query(QUERY)
    np.testing.assert_array_equal(np.asarray(query, dtype=np.float32), embedder.embed_queries([QUERY])[0])


def test_empty_documents(embeddings: Qwen3Embeddings) -> None:
    assert embeddings.embed_documents([]) == []


def test_accepts_loaded_embedder(embedder: Qwen3Embedder) -> None:
    adapter = Qwen3Embeddings(model=embedder)
    assert adapter.embedder is embedder
    np.testing.assert_array_equal(
        np.asarray(adapter.embed_query(QUERY), dtype=np.float32), embedder.embed_queries([QUERY])[0]
    )


def test_loaded_embedder_with_view_options(embedder: Qwen3Embedder) -> None:
    adapter = Qwen3Embeddings(model=embedder, dimensions=48)
    assert adapter.embedder.model is embedder.model
    assert adapter.embedder.dimensions == adapter.dimensions == 48
    assert embedder.dimensions == embedder.hidden_size  # the given object is not changed


def test_loaded_embedder_rejects_device(embedder: Qwen3Embedder) -> None:
    with pytest.raises(InvalidOptionError, match="device"):
        Qwen3Embeddings(model=embedder, device="cpu")
    with pytest.raises(InvalidOptionError, match="quantize"):
        Qwen3Embeddings(model=embedder, quantize="int8")


def test_quantize_reaches_the_runtime(tiny_embedding_path: str, tiny_reranker_path: str) -> None:
    embeddings = Qwen3Embeddings(model=tiny_embedding_path, device="cpu", quantize="int8")
    rerank = Qwen3Rerank(model=tiny_reranker_path, device="cpu", quantize="int8")
    assert embeddings.embedder.runtime.quantize == rerank.reranker.runtime.quantize == "int8"
    assert Qwen3Embeddings(model=tiny_embedding_path, device="cpu").embedder.runtime.quantize is None


def test_building_after_first_load_takes_milliseconds(
    tiny_embedding_path: str, embedder: Qwen3Embedder
) -> None:
    start = time.perf_counter()
    adapter = Qwen3Embeddings(model=tiny_embedding_path)
    elapsed = time.perf_counter() - start
    assert adapter.embedder.model is embedder.model
    assert elapsed < 0.25, f"building an adapter for a loaded model took {elapsed:.3f}s"


async def test_async_is_native_not_the_executor_fallback(
    embeddings: Qwen3Embeddings, embedder: Qwen3Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    forbid_sync_calls(monkeypatch, Qwen3Embedder, "embed_documents", "embed_queries")
    stats = embedder.runtime.batcher.stats
    before = stats.requests
    await embeddings.aembed_query(QUERY)
    await embeddings.aembed_documents(TEXTS)
    assert stats.requests == before + 2


async def test_concurrent_async_queries_are_coalesced(
    embeddings: Qwen3Embeddings, embedder: Qwen3Embedder
) -> None:
    await check_concurrent_queries_coalesce(embedder, embeddings.aembed_query)


# ------------------------------------------------------------------ rerank
def _expected_order(reranker: Qwen3Reranker, query: str, texts: list[str]) -> tuple[list[int], list[float]]:
    scores = reranker.score(query, texts)
    return sorted(range(len(texts)), key=scores.__getitem__, reverse=True), scores


def test_rerank_returns_sorted_copies_with_runtime_scores(
    rerank: Qwen3Rerank, reranker: Qwen3Reranker
) -> None:
    docs = _docs()
    out = rerank.compress_documents(docs, QUERY)
    order, scores = _expected_order(reranker, QUERY, TEXTS)
    assert [d.page_content for d in out] == [TEXTS[i] for i in order[:3]]
    assert [d.metadata["relevance_score"] for d in out] == [scores[i] for i in order[:3]]
    assert [d.metadata["n"] for d in out] == order[:3]
    assert [d.id for d in out] == [f"doc-{i}" for i in order[:3]]
    assert all("relevance_score" not in d.metadata for d in docs), "inputs must not be modified"
    assert all(o is not d for o in out for d in docs)


def test_rerank_top_n(tiny_reranker_path: str, reranker: Qwen3Reranker) -> None:
    assert len(Qwen3Rerank(model=tiny_reranker_path, top_n=1).compress_documents(_docs(), QUERY)) == 1
    everything = Qwen3Rerank(model=tiny_reranker_path, top_n=None).compress_documents(_docs(), QUERY)
    order, _ = _expected_order(reranker, QUERY, TEXTS)
    assert [d.metadata["n"] for d in everything] == order
    with pytest.raises(ValueError):
        Qwen3Rerank(model=tiny_reranker_path, top_n=0)


def test_rerank_instruction(tiny_reranker_path: str, reranker: Qwen3Reranker) -> None:
    task = "Given a question, retrieve Wikipedia passages that answer the question"
    adapter = Qwen3Rerank(model=tiny_reranker_path, top_n=None, instruction=task)
    out = adapter.compress_documents(_docs(), QUERY)
    scores = reranker.score(QUERY, TEXTS, instruction=task)
    assert sorted(d.metadata["relevance_score"] for d in out) == sorted(scores)
    assert scores != reranker.score(QUERY, TEXTS)


def test_rerank_empty(rerank: Qwen3Rerank) -> None:
    assert rerank.compress_documents([], QUERY) == []


def test_rerank_accepts_loaded_reranker(reranker: Qwen3Reranker) -> None:
    adapter = Qwen3Rerank(model=reranker, top_n=2)
    assert adapter.reranker is reranker
    with pytest.raises(InvalidOptionError, match="dtype"):
        Qwen3Rerank(model=reranker, dtype="float32")
    with pytest.raises(InvalidOptionError, match="quantize"):
        Qwen3Rerank(model=reranker, quantize="int8")


async def test_rerank_async_is_native_and_equal(
    rerank: Qwen3Rerank, reranker: Qwen3Reranker, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = rerank.compress_documents(_docs(), QUERY)

    forbid_sync_calls(monkeypatch, Qwen3Reranker, "score")
    stats = reranker.runtime.batcher.stats
    before = stats.requests
    got = await rerank.acompress_documents(_docs(), QUERY)
    assert stats.requests == before + 1
    assert [(d.page_content, d.metadata) for d in got] == [(d.page_content, d.metadata) for d in expected]
