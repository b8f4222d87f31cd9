"""End to end: a VectorStoreIndex built with Qwen3Embedding, queried through a query engine
with ``node_postprocessors=[Qwen3Rerank(...)]`` and a mock LLM; sync and async."""

from __future__ import annotations

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.response.schema import Response
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import BaseQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode
from llama_index.embeddings.qwen3_rag import Qwen3Embedding
from llama_index.postprocessor.qwen3_rag_rerank import Qwen3Rerank

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from tests.support.texts import CORPUS, QUERY

pytestmark = pytest.mark.models  # every test here builds or loads a model

K, TOP_N = 6, 3


@pytest.fixture(scope="module")
def index(tiny_embedding_path: str) -> VectorStoreIndex:
    nodes = [TextNode(text=t, id_=f"node-{i}", metadata={"n": i}) for i, t in enumerate(CORPUS)]
    return VectorStoreIndex(nodes=nodes, embed_model=Qwen3Embedding(model_name=tiny_embedding_path))


@pytest.fixture
def engine(index: VectorStoreIndex, tiny_reranker_path: str) -> BaseQueryEngine:
    return index.as_query_engine(
        llm=MockLLM(),
        similarity_top_k=K,
        node_postprocessors=[Qwen3Rerank(model=tiny_reranker_path, top_n=TOP_N)],
    )


def _expected(index: VectorStoreIndex, reranker_path: str) -> list[tuple[str, float]]:
    candidates: list[NodeWithScore] = index.as_retriever(similarity_top_k=K).retrieve(QUERY)
    assert len(candidates) == K
    texts = [c.node.get_content(metadata_mode=MetadataMode.EMBED) for c in candidates]
    scores = Qwen3Reranker.load(reranker_path).score(QUERY, texts)
    order = sorted(range(K), key=scores.__getitem__, reverse=True)[:TOP_N]
    return [(candidates[i].node.node_id, scores[i]) for i in order]


def _check(response: object, expected: list[tuple[str, float]]) -> None:
    assert isinstance(response, Response)
    assert response.response  # the mock LLM answered from the reranked context
    got = [(n.node.node_id, n.score) for n in response.source_nodes]
    assert got == expected
    scores = [score for _, score in expected]
    assert scores == sorted(scores, reverse=True)


def test_index_vectors_are_qwen3_embeddings(index: VectorStoreIndex, tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    stored = index.vector_store.to_dict()["embedding_dict"]
    nodes = [TextNode(text=t, metadata={"n": i}) for i, t in enumerate(CORPUS)]
    texts = [node.get_content(MetadataMode.EMBED) for node in nodes]
    expected = embedder.embed_documents(texts)
    for i in range(len(CORPUS)):
        assert stored[f"node-{i}"] == expected[i].tolist()


def test_query_engine_reranks(
    index: VectorStoreIndex, engine: BaseQueryEngine, tiny_reranker_path: str
) -> None:
    _check(engine.query(QUERY), _expected(index, tiny_reranker_path))


async def test_aquery_through_the_batcher(
    index: VectorStoreIndex, engine: BaseQueryEngine, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    expected = _expected(index, tiny_reranker_path)
    emb_stats = Qwen3Embedder.load(tiny_embedding_path).runtime.batcher.stats
    rr_stats = Qwen3Reranker.load(tiny_reranker_path).runtime.batcher.stats
    emb_before, rr_before = emb_stats.requests, rr_stats.requests
    _check(await engine.aquery(QUERY), expected)
    assert emb_stats.requests == emb_before + 1  # the query embedding
    assert rr_stats.requests == rr_before + 1  # one batched rerank request for all K candidates
