"""Issue 12 §1 through LangChain: ``min_score`` and ``relevance_logit`` on the compressor and the
retriever, ``long_documents``, a converted sequence-classification checkpoint, and a float16
reranker whose overflowing row is recomputed in float32."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_qwen3_rag import Qwen3Rerank
from langchain_qwen3_rag.retrievers import Qwen3RagRetriever

from integrations.tests.adapter_support import nan_rows_of_text_in_float16
from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import Ingestor, QdrantStore
from qwen3_rag.testing import convert_reranker_to_sequence_classifier
from tests.support.texts import LONG, QUERY, TEXTS

pytestmark = pytest.mark.models  # every test here builds or loads a model


def _docs(texts: list[str] = TEXTS) -> list[Document]:
    return [Document(page_content=t, metadata={"n": i}) for i, t in enumerate(texts)]


def test_compressor_min_score_and_logits(reranker: Qwen3Reranker) -> None:
    ranked = reranker.rank(QUERY, TEXTS)
    threshold = ranked[2].score
    rerank = Qwen3Rerank(model=reranker, top_n=None, min_score=threshold)
    out = rerank.compress_documents(_docs(), QUERY)
    assert [d.metadata["n"] for d in out] == [r.index for r in ranked[:3]]
    assert [d.metadata["relevance_score"] for d in out] == [r.score for r in ranked[:3]]
    assert [d.metadata["relevance_logit"] for d in out] == [r.logit for r in ranked[:3]]
    for d in out:
        assert abs(1 / (1 + math.exp(-d.metadata["relevance_logit"])) - d.metadata["relevance_score"]) <= 1e-6
    assert (
        len(Qwen3Rerank(model=reranker, top_n=2, min_score=threshold).compress_documents(_docs(), QUERY)) == 2
    )
    assert Qwen3Rerank(model=reranker, min_score=1.0).compress_documents(_docs(), QUERY) == []
    again = asyncio.run(rerank.acompress_documents(_docs(), QUERY))
    assert [d.metadata for d in again] == [d.metadata for d in out]
    for bad in (1.5, -0.5):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            Qwen3Rerank(model=reranker, min_score=bad)


def test_compressor_long_documents(reranker: Qwen3Reranker) -> None:
    windowed = Qwen3Rerank(model=reranker, top_n=None, max_length=120, long_documents="max_window")
    assert windowed.reranker.long_documents == "max_window" and windowed.long_documents == "max_window"
    out = windowed.compress_documents(_docs([TEXTS[1], LONG]), QUERY)
    expected = reranker.with_options(max_length=120, long_documents="max_window").score(
        QUERY, [TEXTS[1], LONG]
    )
    assert sorted(d.metadata["relevance_score"] for d in out) == sorted(expected)
    cut = reranker.with_options(max_length=120).score(QUERY, [LONG])[0]
    assert next(d for d in out if d.metadata["n"] == 1).metadata["relevance_score"] >= cut - 1e-6
    with pytest.raises(InvalidOptionError, match="long_documents"):
        Qwen3Rerank(model=reranker, long_documents="sliding")


def test_compressor_on_a_converted_checkpoint(
    reranker: Qwen3Reranker, tiny_reranker_path: str, tmp_path: Path
) -> None:
    converted = convert_reranker_to_sequence_classifier(tiny_reranker_path, tmp_path / "seq-cls")
    out = Qwen3Rerank(model=converted, device="cpu", dtype="float32", top_n=None).compress_documents(
        _docs(), QUERY
    )
    expected = {r.index: r.score for r in reranker.rank(QUERY, TEXTS)}
    for d in out:
        assert d.metadata["relevance_score"] == pytest.approx(expected[d.metadata["n"]], abs=1e-5)


def test_compressor_in_float16_recomputes_an_overflowing_row(
    tiny_reranker_path: str, reranker: Qwen3Reranker
) -> None:
    rerank = Qwen3Rerank(model=tiny_reranker_path, device="cpu", dtype="float16", top_n=None)
    handle = nan_rows_of_text_in_float16(rerank.reranker, TEXTS, 1)
    try:
        out = rerank.compress_documents(_docs(), QUERY)
    finally:
        handle.remove()
    banana = next(d for d in out if d.metadata["n"] == 1).metadata["relevance_score"]
    assert math.isfinite(banana) and banana == pytest.approx(reranker.score(QUERY, [TEXTS[1]])[0], abs=1e-2)


# ------------------------------------------------------------------ retriever
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_embedding_path: str) -> QdrantStore:
    root = tmp_path_factory.mktemp("lc-features")
    for i, text in enumerate(TEXTS):
        (root / f"doc{i}.txt").write_text(text, encoding="utf-8")
    store = QdrantStore("lc-features", location=":memory:")
    Ingestor(
        store, Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32"), progress=False
    ).ingest([root])
    return store


def test_retriever_min_score_field_and_per_call(store: QdrantStore, reranker: Qwen3Reranker) -> None:
    retriever = Qwen3RagRetriever(store=store, reranker_model=reranker, k=5)
    everything = retriever.invoke(QUERY)
    assert len(everything) == 5
    for d in everything:
        assert abs(1 / (1 + math.exp(-d.metadata["relevance_logit"])) - d.metadata["relevance_score"]) <= 1e-6
    threshold = everything[1].metadata["relevance_score"]
    assert [d.id for d in retriever.invoke(QUERY, min_score=threshold)] == [d.id for d in everything[:2]]
    assert retriever.invoke(QUERY, min_score=1.0) == []
    strict = Qwen3RagRetriever(store=store, reranker_model=reranker, k=5, min_score=threshold)
    assert [d.id for d in strict.invoke(QUERY)] == [d.id for d in everything[:2]]
    assert [d.id for d in asyncio.run(strict.ainvoke(QUERY))] == [d.id for d in everything[:2]]
    assert len(strict.invoke(QUERY, min_score=0.0)) == 5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Qwen3RagRetriever(store=store, reranker_model=reranker, min_score=3.0)
