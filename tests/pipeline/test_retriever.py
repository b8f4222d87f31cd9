"""Two-stage retrieval: scores equal the runtime's, filters, hybrid fusion, async, one embed call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import InvalidOptionError
from qwen3_rag.pipeline import QdrantStore, TwoStageRetriever
from qwen3_rag.pipeline._sparse import term_weights
from tests.support.corpus import ingest_docs

DOCS = {
    "france.txt": "Paris is the capital and largest city of France.",
    "python.md": "Python is a programming language. Qdrant is a vector database.",
    "fox.txt": "The quick brown fox jumps over the lazy dog.",
    "rag.md": "Retrieval augmented generation combines a retriever with a generator.",
    "numbers.txt": "Numbers 0 1 2 3 4 5 6 7 8 9.",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, models: Any) -> tuple[QdrantStore, Path]:
    root = tmp_path_factory.mktemp("retriever-docs")
    store = ingest_docs(root, DOCS, models[0], "r")
    return store, root


@pytest.fixture
def retriever(corpus: Any, models: Any) -> TwoStageRetriever:
    return TwoStageRetriever(corpus[0], models[0], models[1], top_n=3)


def test_defaults() -> None:
    r = TwoStageRetriever(None, None, None)  # type: ignore[arg-type]
    assert (r.top_k, r.top_n, r.hybrid) == (50, 5, False)
    with pytest.raises(InvalidOptionError):
        TwoStageRetriever(None, None, None, top_n=0)  # type: ignore[arg-type]


def test_results_carry_text_source_and_both_scores_equal_to_the_runtime(
    retriever: TwoStageRetriever, models: Any
) -> None:
    embedder, reranker = models
    query = "What is the capital of France?"
    results = retriever.retrieve(query)
    assert len(results) == 3
    texts = list(DOCS.values())
    expected_rerank = dict(zip(texts, reranker.score(query, texts), strict=True))
    doc_vectors = dict(zip(texts, embedder.embed_documents(texts), strict=True))
    query_vector = embedder.embed_queries([query])[0]
    for r in results:
        assert Path(r.source).name in DOCS and DOCS[Path(r.source).name] == r.text
        assert r.rerank_score == pytest.approx(expected_rerank[r.text], abs=1e-6)
        assert r.retrieval_score == pytest.approx(float(np.dot(query_vector, doc_vectors[r.text])), abs=1e-5)
    assert [r.rerank_score for r in results] == sorted(expected_rerank.values(), reverse=True)[:3]


def test_top_k_limits_the_candidates_reranked(retriever: TwoStageRetriever, models: Any) -> None:
    results = retriever.retrieve("fox", top_k=2, top_n=5)
    assert len(results) == 2


def test_payload_filters(retriever: TwoStageRetriever, corpus: Any) -> None:
    source = (corpus[1] / "fox.txt").resolve().as_posix()
    results = retriever.retrieve("capital of France", filters={"source": source})
    assert [r.source for r in results] == [source]
    other = (corpus[1] / "rag.md").resolve().as_posix()
    both = retriever.retrieve("capital", filters={"source": [source, other]}, top_n=5)
    assert {r.source for r in both} == {source, other}
    assert retriever.retrieve("x", filters={"source": "/nope"}) == []


def test_hybrid_fuses_dense_and_sparse(retriever: TwoStageRetriever, corpus: Any, models: Any) -> None:
    store = corpus[0]
    query = "quick brown fox"
    dense = models[0].embed_queries([query])[0]
    fused = retriever.retrieve(query, hybrid=True, top_n=5)
    assert len(fused) == 5
    # RRF scores: 1/(rank+1) summed over the two lists, so the sparse-only match earns its share.
    points = store.query(dense, limit=5, sparse=None)
    assert {r.retrieval_score for r in fused} != {p.score for p in points}
    assert all(0 < r.retrieval_score <= 1.0 for r in fused)
    fox = next(r for r in fused if r.text.startswith("The quick brown fox"))
    assert fox.retrieval_score == max(r.retrieval_score for r in fused)  # ranked first by term match


def test_sparse_weights_ignore_case_and_position(models: Any) -> None:
    tokenizer = models[0].tokenizer
    a, b = term_weights(tokenizer, ["Paris capital", "the capital: paris!"])
    assert set(a) <= set(b)
    doc = term_weights(tokenizer, ["fox fox fox dog"])[0]
    query = term_weights(tokenizer, ["fox"], query=True)[0]
    assert set(query.values()) == {1.0}
    assert max(doc.values()) < 3  # saturated, not a raw count


def test_one_embedding_request_per_query(retriever: TwoStageRetriever, models: Any) -> None:
    embedder = models[0]
    calls: list[int] = []
    original = embedder.runtime.batcher.run

    def counting(items: Any, encode: Any) -> Any:
        calls.append(len(items))
        return original(items, encode)

    embedder.runtime.batcher.run = counting
    try:
        retriever.retrieve("capital", hybrid=True)
    finally:
        del embedder.runtime.batcher.run
    assert calls == [1]


async def test_async_matches_sync(retriever: TwoStageRetriever) -> None:
    queries = ["capital of France", "vector database", "fox"]
    sync = [retriever.retrieve(q) for q in queries]
    concurrent = await asyncio.gather(*(retriever.aretrieve(q) for q in queries))
    for a, b in zip(sync, concurrent, strict=True):
        assert [r.id for r in a] == [r.id for r in b]
        for x, y in zip(a, b, strict=True):
            assert x.rerank_score == pytest.approx(y.rerank_score, abs=1e-5)


def test_min_score_drops_chunks_below_it_here_or_per_call(corpus: Any, models: Any) -> None:
    embedder, reranker = models
    query = "What is the capital of France?"
    everything = TwoStageRetriever(corpus[0], embedder, reranker, top_n=5).retrieve(query)
    assert len(everything) == 5
    for r in everything:  # the log-odds behind each score
        assert r.rerank_logit is not None and abs(1 / (1 + np.exp(-r.rerank_logit)) - r.rerank_score) <= 1e-6
        assert r.to_dict()["rerank_logit"] == r.rerank_logit
    threshold = everything[2].rerank_score
    kept = TwoStageRetriever(corpus[0], embedder, reranker, top_n=5, min_score=threshold)
    assert [r.id for r in kept.retrieve(query)] == [r.id for r in everything[:3]]
    assert [r.id for r in kept.retrieve(query, top_n=2)] == [r.id for r in everything[:2]]
    assert kept.retrieve(query, min_score=1.0) == []  # nothing relevant: a valid, empty answer
    assert [r.id for r in kept.retrieve(query, min_score=0.0)] == [r.id for r in everything]
    plain = TwoStageRetriever(corpus[0], embedder, reranker, top_n=5)
    per_call = asyncio.run(plain.aretrieve(query, min_score=threshold))
    assert [r.id for r in per_call] == [r.id for r in everything[:3]]
    with pytest.raises(InvalidOptionError, match=r"min_score=2.*\[0, 1\]"):
        TwoStageRetriever(corpus[0], embedder, reranker, min_score=2)
    with pytest.raises(InvalidOptionError, match="min_score"):
        plain.retrieve(query, min_score=float("nan"))
