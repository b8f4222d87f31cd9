"""The metrics, computed by a well-kept library, and TREC files anyone can score again.

nDCG@10, Recall@10, Recall@100 and MRR@10 come from ``ir-measures``, which hands each measure to
a provider that implements it: pytrec_eval (trec_eval's own code, as BEIR uses) for nDCG and
recall, the MS MARCO evaluation script for MRR@10 (trec_eval's ``recip_rank`` has no cutoff).
Queries in the qrels that a run does not answer count as 0, so the qrels given must be exactly
the evaluated queries.

:func:`write_runs` writes one TREC run file per mode (``qid Q0 docid rank score tag``, the
scores as exact decimal round-trips) and ``qrels.txt`` for the evaluated queries, so

    ir_measures RUNS/qrels.txt RUNS/hybrid_rerank.trec nDCG@10 R@10 R@100 RR@10

gives the numbers of the report again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import MissingDependencyError
from ._beir import DatasetError
from ._runs import Run

# Display name -> ir-measures name.
MEASURES = {"nDCG@10": "nDCG@10", "Recall@10": "R@10", "Recall@100": "R@100", "MRR@10": "RR@10"}
QRELS_FILE = "qrels.txt"
_WHITESPACE = re.compile(r"\s")


def ir_measures() -> Any:
    try:
        import ir_measures as module
    except ImportError as exc:
        raise MissingDependencyError(
            "qwen3-rag eval computes its metrics with ir-measures: pip install 'qwen3-rag[eval]'"
        ) from exc
    return module


def require_metrics() -> None:
    """Fail now, before any model loads, if the metric library is missing."""
    ir_measures()


def evaluate(runs: Mapping[str, Run], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, float]]:
    """``{mode: {metric: mean over the queries of qrels}}``."""
    library = ir_measures()
    measures = {name: library.parse_measure(spec) for name, spec in MEASURES.items()}
    out: dict[str, dict[str, float]] = {}
    for mode, run in runs.items():
        values = library.calc_aggregate(list(measures.values()), qrels, run)
        out[mode] = {name: float(values[measure]) for name, measure in measures.items()}
    return out


def run_file_name(mode: str) -> str:
    """``dense.trec``, ``hybrid.trec``, ``dense_rerank.trec``, ``hybrid_rerank.trec``."""
    return mode.replace("+", "_") + ".trec"


def check_trec_ids(ids: Mapping[str, Any], what: str) -> None:
    """TREC files are whitespace-separated: an id holding whitespace cannot be written."""
    for key in ids:
        if _WHITESPACE.search(key):
            raise DatasetError(
                f"{what} id {key!r} holds whitespace, which a TREC run file cannot hold; leave out "
                "--save-runs for this data set."
            )


def trec_lines(run: Run, tag: str) -> list[str]:
    """A run's lines, best first per query; ties in trec_eval's order (document id, descending)."""
    lines: list[str] = []
    for query_id, docs in run.items():
        ranked = sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)
        lines.extend(
            f"{query_id} Q0 {doc_id} {rank} {score!r} {tag}" for rank, (doc_id, score) in enumerate(ranked, 1)
        )
    return lines


def write_runs(
    folder: str | Path, runs: Mapping[str, Run], qrels: Mapping[str, Mapping[str, int]]
) -> list[Path]:
    """One ``<mode>.trec`` per mode and ``qrels.txt``; the paths written."""
    target = Path(folder).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for mode, run in runs.items():
        path = target / run_file_name(mode)
        lines = trec_lines(run, tag=mode)
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        written.append(path)
    qrels_path = target / QRELS_FILE
    qrels_path.write_text(
        "".join(f"{q} 0 {d} {rel}\n" for q, docs in qrels.items() for d, rel in docs.items()),
        encoding="utf-8",
    )
    written.append(qrels_path)
    return written
