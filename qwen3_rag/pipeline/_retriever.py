"""Two-stage retrieval: dense (or hybrid) top-k from Qdrant, then Qwen3 rerank to top-n.

One embedding request per query (through the shared micro-batcher, so concurrent queries are
coalesced into one forward pass), one Qdrant query, one rerank request for the k candidates,
ranked by the reranker's ``rank`` (``top_n`` and the ``min_score`` threshold: the one
sort-and-cut, :func:`qwen3_rag._ranking.best_first`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .._ranking import RankedDocument, check_rerank_threshold
from .._runtime.validation import check_positive_int
from ._filters import Where, to_qdrant_filter
from ._layout import Hit
from ._provenance import citation
from ._source_documents import check_tenant
from ._sparse import sparse_vectors
from ._store import QdrantStore

DEFAULT_TOP_K = 50
DEFAULT_TOP_N = 5


@dataclass(frozen=True)
class RetrievedChunk:
    """One result: the chunk, where it came from, and both stages' scores.

    ``retrieval_score`` is the cosine similarity (dense) or the fused RRF score (hybrid);
    ``rerank_score`` is Qwen3-Reranker's P(yes) in [0, 1], the order of the results;
    ``rerank_logit`` the log-odds ``logit(yes) - logit(no)`` behind it (unbounded: for calibration,
    where P(yes) saturates). ``page_start``/``page_end`` (1-based; ``None`` for documents without
    pages) and ``headings`` (the section's heading path, outermost first) say where in the document
    the chunk is; :attr:`citation` puts it as people cite: ``"report.pdf, p. 12"``. ``metadata``
    is the user metadata stored with its document (``{}`` for files).
    """

    text: str
    source: str
    chunk_index: int
    retrieval_score: float
    rerank_score: float
    id: str
    payload: dict[str, Any] = field(default_factory=dict)
    rerank_logit: float | None = None
    page_start: int | None = None
    page_end: int | None = None
    headings: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def citation(self) -> str:
        """``"report.pdf, pp. 12-13"``, ``"guide.md, Install > Linux"``, or the file name."""
        return citation(self.source, self.payload)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source,
            "chunk_index": self.chunk_index,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "headings": list(self.headings),
            "citation": self.citation,
            "retrieval_score": self.retrieval_score,
            "rerank_score": self.rerank_score,
            "rerank_logit": self.rerank_logit,
            "id": self.id,
            "metadata": self.metadata,
        }


def build_filter(filters: Where) -> Any:
    """A Qdrant ``Filter`` from a filter mapping (:mod:`._filters`), or a ``Filter`` as given.

    Kept for code written before :func:`~._filters.to_qdrant_filter`, which it is (without the
    store, so a ``source`` folder prefix needs ``QdrantStore.to_filter`` instead).
    """
    return to_qdrant_filter(filters)


class TwoStageRetriever:
    """Retrieve ``top_k`` chunks from a :class:`QdrantStore`, rerank them, keep ``top_n``.

    >>> retriever = TwoStageRetriever(store, embedder, reranker, top_k=50, top_n=5, hybrid=True)
    >>> for r in retriever.retrieve("How do I rotate the API key?", filters={"team": "ops"}):
    ...     print(round(r.rerank_score, 3), r.source, r.text[:80])

    ``hybrid=True`` fuses dense results with sparse term matches (Qwen tokenizer terms, Qdrant
    IDF) by reciprocal rank fusion before reranking. ``instruction`` overrides the task
    instruction of both the query embedding and the reranker. ``min_score`` (a P(yes) in
    [0, 1], here or per call) drops reranked chunks below it: fewer than ``top_n`` results, or
    none, is then a valid answer. ``filters`` (per call) is a mapping on metadata fields, or a
    qdrant ``Filter`` (:mod:`._filters`); ``tenant`` keeps every search to that tenant's chunks.
    """

    def __init__(
        self,
        store: QdrantStore,
        embedder: Any,
        reranker: Any,
        *,
        top_k: int = DEFAULT_TOP_K,
        top_n: int = DEFAULT_TOP_N,
        hybrid: bool = False,
        instruction: str | None = None,
        min_score: float | None = None,
        tenant: str | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.reranker = reranker
        self.top_k = check_positive_int(top_k, "top_k")
        self.top_n = check_positive_int(top_n, "top_n")
        self.hybrid = bool(hybrid)
        self.instruction = instruction
        self.min_score = check_rerank_threshold(min_score)
        self.tenant = check_tenant(tenant)

    @classmethod
    def from_collection(cls, store: Any = None, **options: Any) -> TwoStageRetriever:
        """A ready retriever over an existing collection: its recorded model and size, the
        reranker loaded or connected, the spec checked once. ``store`` is a :class:`QdrantStore`
        or a collection name; see :func:`qwen3_rag.pipeline._opening.open_retriever` for the options.

        >>> retriever = TwoStageRetriever.from_collection("kb", reranker="Qwen/Qwen3-Reranker-0.6B", top_n=5)
        """
        from ._opening import open_retriever

        return open_retriever(*([] if store is None else [store]), **options)

    def _settings(
        self, top_k: int | None, top_n: int | None, hybrid: bool | None, min_score: float | None
    ) -> tuple[int, int, bool, float | None]:
        k = self.top_k if top_k is None else check_positive_int(top_k, "top_k")
        n = self.top_n if top_n is None else check_positive_int(top_n, "top_n")
        threshold = self.min_score if min_score is None else check_rerank_threshold(min_score)
        return k, n, self.hybrid if hybrid is None else bool(hybrid), threshold

    def _search(self, query: str, dense: Any, k: int, hybrid: bool, filters: Any) -> list[Hit]:
        sparse = sparse_vectors(self.embedder.tokenizer, [query], query=True)[0] if hybrid else None
        return self.store.query(dense, limit=k, sparse=sparse, query_filter=filters)

    @staticmethod
    def _combine(hits: Sequence[Hit], ranked: Sequence[RankedDocument]) -> list[RetrievedChunk]:
        # Ranked best first by the reranker; equal scores keep the first stage's order.
        results = []
        for r in ranked:
            hit = hits[r.index]
            where = hit.provenance
            results.append(
                RetrievedChunk(
                    text=hit.text,
                    source=hit.source,
                    chunk_index=hit.chunk_index,
                    retrieval_score=hit.score,
                    rerank_score=r.score,
                    id=hit.id,
                    payload=hit.payload,
                    rerank_logit=r.logit,
                    page_start=where.page_start,
                    page_end=where.page_end,
                    headings=where.headings,
                    metadata=hit.metadata,
                )
            )
        return results

    def retrieve(
        self,
        query: str,
        *,
        top_k: int | None = None,
        top_n: int | None = None,
        filters: Where = None,
        hybrid: bool | None = None,
        min_score: float | None = None,
    ) -> list[RetrievedChunk]:
        """The ``top_n`` best chunks for ``query`` scoring at least ``min_score``, best first."""
        k, n, use_hybrid, threshold = self._settings(top_k, top_n, hybrid, min_score)
        where = self.store.to_filter(filters, tenant=self.tenant)  # a bad filter fails before any model runs
        dense = self.embedder.embed_queries([query], instruction=self.instruction)[0]
        hits = self._search(query, dense, k, use_hybrid, where)
        if not hits:
            return []
        texts = [h.text for h in hits]
        ranked = self.reranker.rank(query, texts, top_n=n, min_score=threshold, instruction=self.instruction)
        return self._combine(hits, ranked)

    async def aretrieve(
        self,
        query: str,
        *,
        top_k: int | None = None,
        top_n: int | None = None,
        filters: Where = None,
        hybrid: bool | None = None,
        min_score: float | None = None,
    ) -> list[RetrievedChunk]:
        """:meth:`retrieve` without blocking the event loop (models batched, Qdrant in a thread)."""
        k, n, use_hybrid, threshold = self._settings(top_k, top_n, hybrid, min_score)
        where = await asyncio.to_thread(self.store.to_filter, filters, tenant=self.tenant)
        dense = (await self.embedder.aembed_queries([query], instruction=self.instruction))[0]
        hits = await asyncio.to_thread(self._search, query, dense, k, use_hybrid, where)
        if not hits:
            return []
        texts = [h.text for h in hits]
        ranked = await self.reranker.arank(
            query, texts, top_n=n, min_score=threshold, instruction=self.instruction
        )
        return self._combine(hits, ranked)
