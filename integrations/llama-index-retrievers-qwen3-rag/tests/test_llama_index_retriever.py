"""The LlamaIndex retriever over a real embedded collection with the tiny models."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.retrievers.qwen3_rag import Qwen3RagRetriever

from integrations.tests.adapter_support import ModelPair, ingested_store
from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import QdrantStore, TwoStageRetriever

DOCS = {
    "france.txt": "Paris is the capital and largest city of France.",
    "germany.txt": "Berlin is the capital of Germany.",
    "python.md": "Python is a programming language.",
    "fox.md": "The quick brown fox jumps over the lazy dog.",
}


@pytest.fixture(scope="module")  # models_: integrations/conftest.py
def store(tmp_path_factory: pytest.TempPathFactory, models_: ModelPair) -> QdrantStore:
    return ingested_store(tmp_path_factory, "llama-retriever", DOCS, models_[0])


def source(store: QdrantStore, name: str) -> str:
    return (Path(store.root) / name).resolve().as_posix()  # type: ignore[attr-defined]


def test_nodes_carry_the_pipeline_results(
    store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker], tiny_reranker_path: str
) -> None:
    retriever = Qwen3RagRetriever(store=store, reranker_model=tiny_reranker_path, device="cpu", top_n=3)
    assert isinstance(retriever, BaseRetriever)
    assert retriever.two_stage.embedder.dimensions == 32  # the collection's own size
    nodes = retriever.retrieve("capital of France")
    expected = TwoStageRetriever(store, models_[0], models_[1], top_n=3).retrieve("capital of France")
    assert [n.node.node_id for n in nodes] == [r.id for r in expected]
    assert [n.score for n in nodes] == pytest.approx([r.rerank_score for r in expected], abs=1e-6)
    first = nodes[0].node
    assert first.get_content() == expected[0].text
    assert first.metadata["source"] == expected[0].source
    assert first.metadata["retrieval_score"] == pytest.approx(expected[0].retrieval_score)


async def test_async_equals_sync(store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker]) -> None:
    retriever = Qwen3RagRetriever(store=store, embedding_model=models_[0], reranker_model=models_[1], top_n=4)
    sync = retriever.retrieve("a programming language")
    asynchronous = await retriever.aretrieve("a programming language")
    assert [n.node.node_id for n in asynchronous] == [n.node.node_id for n in sync]
    assert [n.score for n in asynchronous] == pytest.approx([n.score for n in sync], abs=1e-6)


def test_filters_as_mapping_or_metadata_filters(
    store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    france, fox = source(store, "france.txt"), source(store, "fox.md")
    cases: list[dict[str, str] | MetadataFilters] = [
        {"source": france},
        MetadataFilters(filters=[MetadataFilter(key="source", value=france)]),
        MetadataFilters(
            filters=[MetadataFilter(key="source", value=[france, fox], operator=FilterOperator.IN)]
        ),
    ]
    expected = [{france}, {france}, {france, fox}]
    for filters, sources in zip(cases, expected, strict=True):
        retriever = Qwen3RagRetriever(
            store=store, embedding_model=models_[0], reranker_model=models_[1], filters=filters, top_n=4
        )
        assert {n.node.metadata["source"] for n in retriever.retrieve("capital")} == sources
    with pytest.raises(InvalidOptionError, match="use == or in"):
        Qwen3RagRetriever(
            store=store,
            embedding_model=models_[0],
            reranker_model=models_[1],
            filters=MetadataFilters(
                filters=[MetadataFilter(key="chunk_index", value=1, operator=FilterOperator.GT)]
            ),
        )


def test_a_given_pipeline_keeps_its_own_settings(
    store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    pipeline = TwoStageRetriever(store, models_[0], models_[1], top_k=3, top_n=2)
    assert len(Qwen3RagRetriever(pipeline=pipeline).retrieve("capital")) == 2
    assert len(Qwen3RagRetriever(pipeline=pipeline, top_n=1).retrieve("capital")) == 1


async def test_query_engine_sync_and_async(
    store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    retriever = Qwen3RagRetriever(store=store, embedding_model=models_[0], reranker_model=models_[1], top_n=3)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    response = engine.query("capital of Germany")
    scores = [n.score or 0.0 for n in response.source_nodes]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    async_response = await engine.aquery("capital of Germany")
    assert [n.node.node_id for n in async_response.source_nodes] == [
        n.node.node_id for n in response.source_nodes
    ]


def test_opening_a_missing_collection_fails_before_models_load(tmp_path: Path) -> None:
    from qwen3_rag import CollectionNotFoundError

    with pytest.raises(CollectionNotFoundError):
        Qwen3RagRetriever(
            collection="nope", qdrant_path=str(tmp_path / "none"), reranker_model="/nonexistent"
        )


def test_min_score_and_logits(store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker]) -> None:
    from llama_index.core.schema import MetadataMode

    everything = Qwen3RagRetriever(
        store=store, embedding_model=models_[0], reranker_model=models_[1], top_n=4
    )
    nodes = everything.retrieve("capital of France")
    assert len(nodes) == 4
    for n in nodes:
        logit = n.node.metadata["relevance_logit"]
        assert abs(1 / (1 + math.exp(-logit)) - (n.score or 0)) <= 1e-6
        assert "relevance_logit" not in n.node.get_content(metadata_mode=MetadataMode.LLM)
    threshold = nodes[1].score
    strict = Qwen3RagRetriever(
        store=store, embedding_model=models_[0], reranker_model=models_[1], top_n=4, min_score=threshold
    )
    assert [n.node.node_id for n in strict.retrieve("capital of France")] == [
        n.node.node_id for n in nodes[:2]
    ]
    got = asyncio.run(strict.aretrieve("capital of France"))
    assert [n.node.node_id for n in got] == [n.node.node_id for n in nodes[:2]]
    pipeline = TwoStageRetriever(store, models_[0], models_[1], top_n=4)
    nothing = Qwen3RagRetriever(pipeline=pipeline, min_score=1.0)
    assert nothing.retrieve("capital of France") == []
    with pytest.raises(InvalidOptionError, match=r"\[0, 1\]"):
        Qwen3RagRetriever(pipeline=pipeline, min_score=7)
