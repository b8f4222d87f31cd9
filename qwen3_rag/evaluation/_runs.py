"""Running every query in the four modes: dense, hybrid, dense + rerank, hybrid + rerank.

Per query: one embedding request, a dense and a hybrid Qdrant search of ``top_k`` chunks each,
and one rerank request for the union of both candidate lists (a chunk found by both is scored
once; the reranker's score of a chunk does not depend on which search found it). Queries run
concurrently (``concurrency`` at a time), so the micro-batcher coalesces their embedding and
rerank requests into shared forward passes.

Runs list documents, not chunks: a document's score in a mode is the best score of its chunks
among that mode's candidates (cosine for dense, the fused RRF score for hybrid, the reranker's
P(yes) for the reranked modes). So a run holds at most ``top_k`` documents per query, fewer when
several chunks of one document are among the candidates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from ..pipeline import Hit, QdrantStore, sparse_vectors

DENSE, HYBRID, DENSE_RERANK, HYBRID_RERANK = "dense", "hybrid", "dense+rerank", "hybrid+rerank"
MODES = (DENSE, HYBRID, DENSE_RERANK, HYBRID_RERANK)

Run = dict[str, dict[str, float]]
"""Query id -> {document id: score}: the input of the metric library and of a TREC run file."""


def best_per_document(scored: Iterable[tuple[str, float]]) -> dict[str, float]:
    """``{document id: its best score}`` from ``(document id, score)`` pairs of chunks."""
    best: dict[str, float] = {}
    for doc_id, score in scored:
        if doc_id not in best or score > best[doc_id]:
            best[doc_id] = score
    return best


class QueryRunner:
    """Runs queries against a collection in the four modes and gathers one :data:`Run` per mode.

    ``document_of`` maps a stored ``source`` to its document id (points of other sources are
    ignored and counted in ``foreign_points``); ``store_lock`` bounds the concurrent store calls;
    ``where`` (a qdrant ``Filter``) narrows every search.
    """

    def __init__(
        self,
        store: QdrantStore,
        embedder: Any,
        reranker: Any,
        *,
        document_of: dict[str, str],
        top_k: int,
        store_lock: asyncio.Semaphore,
        where: Any = None,
        instruction: str | None = None,
        concurrency: int = 16,
        on_query: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.reranker = reranker
        self.document_of = document_of
        self.top_k = top_k
        self.store_lock = store_lock
        self.where = where
        self.instruction = instruction
        self.concurrency = concurrency
        self.on_query = on_query
        self.foreign_points = 0

    async def run(self, queries: dict[str, str]) -> dict[str, Run]:
        """``{mode: run}`` for every query in ``queries`` (``{query id: text}``)."""
        runs: dict[str, Run] = {mode: {} for mode in MODES}
        slots = asyncio.Semaphore(self.concurrency)

        async def one(query_id: str, text: str) -> None:
            async with slots:
                for mode, docs in (await self._query(text)).items():
                    runs[mode][query_id] = docs
            if self.on_query is not None:
                self.on_query()

        await asyncio.gather(*(one(q, text) for q, text in queries.items()))
        # gather finished the queries in any order; keep the data set's order in the runs.
        return {mode: {q: run[q] for q in queries} for mode, run in runs.items()}

    async def _search(self, dense: Any, sparse: Any) -> list[Hit]:
        async with self.store_lock:
            return await asyncio.to_thread(
                self.store.query, dense, limit=self.top_k, sparse=sparse, query_filter=self.where
            )

    async def _query(self, text: str) -> dict[str, dict[str, float]]:
        vector = (await self.embedder.aembed_queries([text], instruction=self.instruction))[0]
        sparse = sparse_vectors(self.embedder.tokenizer, [text], query=True)[0]
        dense_points, hybrid_points = await asyncio.gather(
            self._search(vector, None), self._search(vector, sparse)
        )
        dense_points, hybrid_points = self._ours(dense_points), self._ours(hybrid_points)
        candidates = {h.id: h for h in [*dense_points, *hybrid_points]}
        ids = list(candidates)
        texts = [candidates[i].text for i in ids]
        scores = await self.reranker.ascore(text, texts, instruction=self.instruction) if ids else []
        rerank = dict(zip(ids, scores, strict=True))
        doc = self.document_of
        return {
            DENSE: best_per_document((doc[h.source], h.score) for h in dense_points),
            HYBRID: best_per_document((doc[h.source], h.score) for h in hybrid_points),
            DENSE_RERANK: best_per_document((doc[h.source], float(rerank[h.id])) for h in dense_points),
            HYBRID_RERANK: best_per_document((doc[h.source], float(rerank[h.id])) for h in hybrid_points),
        }

    def _ours(self, hits: list[Hit]) -> list[Hit]:
        kept = [h for h in hits if h.source in self.document_of]
        self.foreign_points += len(hits) - len(kept)
        return kept
