"""Measurement 3: reranking, one query x 100 documents and 16 queries x 50."""

from __future__ import annotations

import asyncio
import gc
from functools import partial
from typing import Any

import numpy as np

from .common import Row, Section, Settings, best_time
from .contenders import sentence_transformer_cross_encoder


def _workload(settings: Settings, queries: int, per_query: int) -> list[tuple[str, list[str]]]:
    docs = settings.corpus.documents
    work = []
    for q in range(queries):
        start = (q * 37) % max(1, len(docs))
        chosen = [docs[(start + i) % len(docs)] for i in range(per_query)]
        work.append((settings.corpus.queries[q % len(settings.corpus.queries)], chosen))
    return work


def _pair_tokens(reranker: Any, work: list[tuple[str, list[str]]]) -> int:
    return sum(
        len(ids) for query, docs in work for ids in reranker.encode_ids(reranker._bodies(query, docs, None))
    )


def _ours(rr: Any, work: list[tuple[str, list[str]]]) -> np.ndarray:
    """One query: ``score``; several: concurrent ``ascore`` calls, as a serving app makes them."""
    if len(work) == 1:
        return np.asarray(rr.score(*work[0]))

    async def main() -> list[list[float]]:
        return list(await asyncio.gather(*(rr.ascore(q, docs) for q, docs in work)))

    return np.asarray([s for scores in asyncio.run(main()) for s in scores])


def run(settings: Settings) -> list[Section]:
    from qwen3_rag import Qwen3Reranker
    from qwen3_rag.testing_reference import ReferenceReranker

    rr = Qwen3Reranker.load(settings.paths["reranker"], device="cpu", dtype="float32")
    ce: Any = None
    missing = ""
    try:
        ce = sentence_transformer_cross_encoder(settings.paths["reranker"])
    except ImportError as exc:
        missing = f"not available: sentence-transformers ({exc}); pip install -e '.[bench]'"
    official = ReferenceReranker(settings.paths["reranker"])
    bs = settings.rerank_batch_size
    warm = [(settings.corpus.queries[0], settings.corpus.documents[:2])]
    rr.score(*warm[0])
    if ce is not None:
        ce.predict([(warm[0][0], d) for d in warm[0][1]], batch_size=bs)
    official.score_pairs([(warm[0][0], d) for d in warm[0][1]], batch_size=bs)

    sections = []
    for queries, per_query in settings.rerank_scenarios:
        work = _workload(settings, queries, per_query)
        pairs = [(q, d) for q, docs in work for d in docs]
        tokens = _pair_tokens(rr, work)
        section = Section(
            f"rerank_{queries}x{per_query}",
            f"Reranking {queries} quer{'y' if queries == 1 else 'ies'} x {per_query} documents "
            f"({len(pairs)} pairs, {tokens} tokens, fp32)",
            unit="pairs/s",
        )

        seconds, mine = best_time(partial(_ours, rr, work), settings.repeat)
        how = "score()" if len(work) == 1 else f"{len(work)} concurrent ascore() calls"
        section.rows.append(Row("qwen3-rag", seconds, len(pairs), tokens, note=how))

        if ce is None:
            section.notes.append(missing)
        else:
            seconds, theirs = best_time(partial(ce.predict, pairs, batch_size=bs), settings.repeat)
            section.rows.append(
                Row.compared(
                    "sentence-transformers CrossEncoder",
                    seconds,
                    len(pairs),
                    tokens,
                    theirs,
                    mine,
                    note=f"causal-LM reranker + chat template, batch {bs}, length-sorted",
                )
            )
        # Timed once: it is 20x+ slower, and its repeats were most of the suite's time.
        seconds, theirs = best_time(partial(official.score_pairs, pairs, batch_size=bs), 1)
        note = f"batch {bs}, input order, all positions' logits, timed once"
        section.rows.append(
            Row.compared("official example code", seconds, len(pairs), tokens, theirs, mine, note=note)
        )
        sections.append(section)
    del ce, official
    gc.collect()
    return sections
