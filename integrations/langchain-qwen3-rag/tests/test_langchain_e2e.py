"""End to end: an LCEL chain ``retriever | format | fake LLM`` over a two-stage retriever.

The retriever is ``ContextualCompressionRetriever(base_retriever=<InMemoryVectorStore with
Qwen3Embeddings>, base_compressor=Qwen3Rerank)``; the documents that reach the LLM must be the
reranked ones, best first, with scores equal to the runtime's ``score()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.language_models import FakeListLLM
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_qwen3_rag import Qwen3Embeddings, Qwen3Rerank

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from tests.support.texts import CORPUS, QUERY

pytestmark = pytest.mark.models  # every test here builds or loads a model

K, TOP_N = 6, 3


class Pipeline:
    def __init__(self, embedding_path: str, reranker_path: str) -> None:
        self.store = InMemoryVectorStore(embedding=Qwen3Embeddings(model=embedding_path))
        self.store.add_documents([Document(page_content=t, metadata={"n": i}) for i, t in enumerate(CORPUS)])
        self.base = self.store.as_retriever(search_kwargs={"k": K})
        self.retriever = ContextualCompressionRetriever(
            base_retriever=self.base, base_compressor=Qwen3Rerank(model=reranker_path, top_n=TOP_N)
        )
        self.seen: list[list[Document]] = []
        self.prompts: list[str] = []
        self.chain: Runnable[str, str] = (
            self.retriever
            | RunnableLambda(self._format)
            | RunnableLambda(self._spy)
            | FakeListLLM(responses=["Paris."])
        )

    def _format(self, docs: list[Document]) -> str:
        self.seen.append(docs)
        context = "\n".join(f"[{d.metadata['relevance_score']:.4f}] {d.page_content}" for d in docs)
        return f"Answer from the context.\n{context}\nQuestion: {QUERY}"

    def _spy(self, prompt: Any) -> Any:
        self.prompts.append(prompt)
        return prompt


@pytest.fixture
def pipeline(tiny_embedding_path: str, tiny_reranker_path: str) -> Pipeline:
    return Pipeline(tiny_embedding_path, tiny_reranker_path)


def _expected(pipeline: Pipeline, reranker_path: str) -> tuple[list[str], list[float]]:
    candidates = [d.page_content for d in pipeline.base.invoke(QUERY)]
    assert len(candidates) == K
    scores = Qwen3Reranker.load(reranker_path).score(QUERY, candidates)
    order = sorted(range(K), key=scores.__getitem__, reverse=True)[:TOP_N]
    return [candidates[i] for i in order], [scores[i] for i in order]


def _check(pipeline: Pipeline, answer: str, texts: list[str], scores: list[float]) -> None:
    assert answer == "Paris."
    (docs,) = pipeline.seen
    assert [d.page_content for d in docs] == texts
    assert [d.metadata["relevance_score"] for d in docs] == scores
    assert scores == sorted(scores, reverse=True)
    assert all(f"] {t}" in pipeline.prompts[0] for t in texts)


def test_chain_sees_reranked_documents(pipeline: Pipeline, tiny_reranker_path: str) -> None:
    texts, scores = _expected(pipeline, tiny_reranker_path)
    _check(pipeline, pipeline.chain.invoke(QUERY), texts, scores)


def test_vector_stage_uses_qwen3_embeddings(pipeline: Pipeline, tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    query = embedder.embed_queries([QUERY])[0]
    similarities = embedder.embed_documents(CORPUS) @ query
    expected = [CORPUS[i] for i in np.argsort(-similarities, kind="stable")[:K]]
    assert [d.page_content for d in pipeline.base.invoke(QUERY)] == expected


async def test_chain_ainvoke_through_the_batcher(
    pipeline: Pipeline, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    texts, scores = _expected(pipeline, tiny_reranker_path)
    emb_stats = Qwen3Embedder.load(tiny_embedding_path).runtime.batcher.stats
    rr_stats = Qwen3Reranker.load(tiny_reranker_path).runtime.batcher.stats
    emb_before, rr_before = emb_stats.requests, rr_stats.requests
    answer = await pipeline.chain.ainvoke(QUERY)
    _check(pipeline, answer, texts, scores)
    assert emb_stats.requests == emb_before + 1  # the query embedding
    assert rr_stats.requests == rr_before + 1  # one batched rerank request for all K candidates
