"""``Qwen3RagRetriever``: the langchain-tests retriever suite and agreement with the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from langchain_core.documents import Document
from langchain_qwen3_rag.retrievers import Qwen3RagRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from qwen3_rag import (
    CollectionMismatchError,
    CollectionNotFoundError,
    InvalidOptionError,
    Qwen3Embedder,
    Qwen3Reranker,
)
from qwen3_rag.pipeline import QdrantStore, TwoStageRetriever
from tests.support.corpus import ingest_docs
from tests.support.texts import RETRIEVAL_DOCS as DOCS

pytestmark = pytest.mark.models  # every test here builds or loads a model


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, tiny_embedding_path: str) -> QdrantStore:
    root = tmp_path_factory.mktemp("lc-docs")
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    store = ingest_docs(root, DOCS, embedder, "lc")
    return store


class TestQwen3RagRetrieverStandard(RetrieversIntegrationTests):
    _params: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True)
    def _setup(self, collection: QdrantStore, tiny_reranker_path: str) -> None:
        type(self)._params = {"store": collection, "reranker_model": tiny_reranker_path, "device": "cpu"}

    @property
    def retriever_constructor(self) -> type[Qwen3RagRetriever]:
        return Qwen3RagRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        assert self._params, "the collection fixture did not run"
        return dict(self._params)

    @property
    def retriever_query_example(self) -> str:
        return "What is the capital of France?"


@pytest.fixture(scope="module")
def retriever(collection: QdrantStore, tiny_reranker_path: str) -> Qwen3RagRetriever:
    return Qwen3RagRetriever(store=collection, reranker_model=tiny_reranker_path, device="cpu", k=3)


def test_documents_match_the_pipeline(retriever: Qwen3RagRetriever, tiny_reranker_path: str) -> None:
    query = "vector database"
    docs = retriever.invoke(query)
    expected = retriever.two_stage.retrieve(query, top_n=3)
    assert [d.page_content for d in docs] == [r.text for r in expected]
    for doc, result in zip(docs, expected, strict=True):
        assert isinstance(doc, Document) and doc.id == result.id
        assert doc.metadata["source"] == result.source
        assert doc.metadata["relevance_score"] == pytest.approx(result.rerank_score, abs=1e-6)
        assert doc.metadata["retrieval_score"] == pytest.approx(result.retrieval_score, abs=1e-5)
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu")
    scores = reranker.score(query, [d.page_content for d in docs])
    assert [d.metadata["relevance_score"] for d in docs] == pytest.approx(scores, abs=1e-6)


async def test_async_hybrid_and_filters(retriever: Qwen3RagRetriever) -> None:
    source = next(
        d.metadata["source"] for d in retriever.invoke("fox", k=4) if d.metadata["source"].endswith("fox.txt")
    )
    docs = await retriever.ainvoke("fox", hybrid=True, filters={"source": source})
    assert [Path(d.metadata["source"]).name for d in docs] == ["fox.txt"]
    sync = retriever.invoke("capital", k=2)
    concurrent = await retriever.ainvoke("capital", k=2)
    assert [d.id for d in sync] == [d.id for d in concurrent]


def test_wraps_a_ready_pipeline(retriever: Qwen3RagRetriever) -> None:
    two_stage: TwoStageRetriever = retriever.two_stage
    wrapped = Qwen3RagRetriever(pipeline=two_stage, k=1)
    assert wrapped.two_stage is two_stage and len(wrapped.invoke("capital")) == 1


def test_a_ready_pipeline_keeps_its_own_settings(retriever: Qwen3RagRetriever) -> None:
    """Fields left at their defaults do not override the given pipeline (they used to: k=5)."""
    base = retriever.two_stage
    pipeline = TwoStageRetriever(base.store, base.embedder, base.reranker, top_k=2, top_n=2)
    assert len(Qwen3RagRetriever(pipeline=pipeline).invoke("capital")) == 2
    assert len(Qwen3RagRetriever(pipeline=pipeline, k=1).invoke("capital")) == 1
    assert len(Qwen3RagRetriever(pipeline=pipeline).invoke("capital", k=1)) == 1


def test_instruction_reaches_both_models(collection: QdrantStore, tiny_reranker_path: str) -> None:
    instruction = "Given a question, retrieve Wikipedia passages that answer the question"
    custom = Qwen3RagRetriever(
        store=collection, reranker_model=tiny_reranker_path, device="cpu", k=4, instruction=instruction
    )
    docs = custom.invoke("capital")
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu")
    texts = [d.page_content for d in docs]
    expected = reranker.score("capital", texts, instruction=instruction)
    assert [d.metadata["relevance_score"] for d in docs] == pytest.approx(expected, abs=1e-6)
    assert expected != pytest.approx(reranker.score("capital", texts), abs=1e-6)
    assert custom.two_stage.instruction == instruction


def test_uses_loaded_runtime_objects(
    collection: QdrantStore,
    tiny_embedding_path: str,
    tiny_reranker_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's snippet: objects loaded beforehand are used as they are, nothing else is loaded."""
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu")

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"Qwen3RagRetriever loaded a model ({args[1:]!r}) instead of the given one")

    monkeypatch.setattr(Qwen3Embedder, "load", classmethod(no_load))
    monkeypatch.setattr(Qwen3Reranker, "load", classmethod(no_load))
    lc = Qwen3RagRetriever(store=collection, embedding_model=embedder, reranker_model=reranker, k=2)
    assert lc.two_stage.embedder is embedder and lc.two_stage.reranker is reranker
    assert lc.two_stage.store is collection
    docs = lc.invoke("capital of France")
    assert len(docs) == 2
    assert [d.metadata["relevance_score"] for d in docs] == pytest.approx(
        reranker.score("capital of France", [d.page_content for d in docs]), abs=1e-6
    )
    # Only the reranker given: the embedder is still the collection's own model (loaded, so not here).
    monkeypatch.undo()
    only = Qwen3RagRetriever(store=collection, reranker_model=reranker, k=1)
    assert only.two_stage.reranker is reranker
    assert only.two_stage.embedder.fingerprint == embedder.fingerprint
    with pytest.raises(InvalidOptionError, match="device"):
        Qwen3RagRetriever(store=collection, embedding_model=embedder, reranker_model=reranker, device="cpu")


def test_clear_errors(collection: QdrantStore, tiny_reranker_path: str, tmp_path: Path) -> None:
    with pytest.raises(CollectionNotFoundError):
        Qwen3RagRetriever(collection="missing", qdrant_path=":memory:", reranker_model=tiny_reranker_path)
    assert collection.read_spec() is not None
    from qwen3_rag.testing import write_tiny_checkpoints

    other = write_tiny_checkpoints(tmp_path, seed=51)["embedding"]  # other weights, same folder name
    with pytest.raises(CollectionMismatchError):
        Qwen3RagRetriever(store=collection, embedding_model=str(other), reranker_model=tiny_reranker_path)
