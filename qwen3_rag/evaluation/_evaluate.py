"""One evaluation from Python: index a BEIR data set, run the four modes, score them.

>>> dataset = load_beir("./scifact")
>>> result = asyncio.run(evaluate_beir(dataset, store, embedder, reranker, top_k=100))
>>> result.metrics["hybrid+rerank"]["nDCG@10"]
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ..pipeline import QdrantStore, Where
from ._beir import BeirDataset
from ._index import IndexReport, corpus_root, index_corpus, source_of
from ._metrics import evaluate
from ._runs import QueryRunner, Run

DEFAULT_TOP_K = 100
DEFAULT_CONCURRENCY = 16


@dataclass
class EvalResult:
    metrics: dict[str, dict[str, float]]
    """``{mode: {metric: value}}``."""
    runs: dict[str, Run]
    """``{mode: {query id: {document id: score}}}``: what the metrics were computed on."""
    index: IndexReport
    queries: int
    query_seconds: float
    foreign_points: int = 0
    """Candidates from sources outside this corpus (a kept collection holding other files)."""
    settings: dict[str, Any] = field(default_factory=dict)


def _bar(enabled: bool, total: int, desc: str, unit: str) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


async def evaluate_beir(
    dataset: BeirDataset,
    store: QdrantStore,
    embedder: Any,
    reranker: Any,
    *,
    top_k: int = DEFAULT_TOP_K,
    chunk_tokens: int | None = None,
    chunk_overlap: int | None = None,
    instruction: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    parallel_store_calls: int = 1,
    progress: bool = False,
    filters: Where = None,
) -> EvalResult:
    """Index ``dataset.corpus`` into ``store`` (idempotently), then run and score every query.

    ``parallel_store_calls`` bounds concurrent calls into the store: 1 for an embedded store
    (its client is not made for concurrent use), more for a server. ``filters`` (a filter mapping
    or qdrant ``Filter``, as ``TwoStageRetriever.retrieve`` takes) narrows every search.
    """
    lock = asyncio.Semaphore(parallel_store_calls)
    bar = _bar(progress, len(dataset.corpus), "index", "doc")
    try:
        report = await index_corpus(
            dataset,
            store,
            embedder,
            chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap,
            on_document=bar.update if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.close()

    root = corpus_root(dataset)
    document_of = {source_of(root, doc_id): doc_id for doc_id in dataset.corpus}
    bar = _bar(progress, len(dataset.queries), "queries", "q")
    where = store.to_filter(filters)  # once, after indexing: source prefixes resolved against it
    runner = QueryRunner(
        store,
        embedder,
        reranker,
        document_of=document_of,
        top_k=top_k,
        store_lock=lock,
        where=where,
        instruction=instruction,
        concurrency=concurrency,
        on_query=(lambda: bar.update(1)) if bar is not None else None,
    )
    started = time.perf_counter()
    try:
        runs = await runner.run(dataset.queries)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - started
    return EvalResult(
        metrics=evaluate(runs, dataset.qrels),
        runs=runs,
        index=report,
        queries=len(dataset.queries),
        query_seconds=seconds,
        foreign_points=runner.foreign_points,
        settings={
            "top_k": top_k,
            "chunk_tokens": report.chunk_tokens,
            "chunk_overlap": report.chunk_overlap,
            "concurrency": concurrency,
        },
    )
