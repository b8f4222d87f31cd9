"""What every section shares: the run's settings, timing, and the result records."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoints import Shape
from .corpus import Corpus

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("main", "cpu-dtypes", "peers", "serving", "ingest", "store", "parsers", "cli")
SUITE_FILES = {  # each suite's JSON under --out (default docs/), in the report's order
    "main": "benchmarks.json",
    "cpu-dtypes": "benchmarks-cpu-dtypes.json",
    "peers": "benchmarks-peers.json",
    "serving": "benchmarks-serving.json",
    "ingest": "benchmarks-ingest-memory.json",
    "store": "benchmarks-store.json",
    "cli": "benchmarks-cli.json",
    "parsers": "benchmarks-parsers.json",
}
RUN_FILE = "benchmarks-run.json"


def normalize_record(data: dict[str, Any] | None) -> dict[str, Any]:
    """``{"last_full": run or None, "later": [runs]}`` (also from the first format, one run)."""
    if not data:
        return {"last_full": None, "later": []}
    if "command" in data:
        full = set(data.get("suites", {})) == set(SUITES)
        return {"last_full": data if full else None, "later": [] if full else [data]}
    return data


@dataclass
class Settings:
    shape: Shape
    paths: dict[str, str]
    corpus: Corpus
    repeat: int = 1
    embed_batch_size: int = 16
    rerank_batch_size: int = 8
    rerank_scenarios: tuple[tuple[int, int], ...] = ((1, 100), (16, 50))
    concurrent_requests: int = 256
    pipeline_chunks: int = 10_000
    quick: bool = False


@dataclass
class Row:
    """One contender in one measurement."""

    contender: str
    seconds: float
    items: int
    tokens: int
    max_abs_diff: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("nan")

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    baseline: str = "qwen3-rag"
    unit: str = "texts/s"
    available: bool = True
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def ratio(self, row: Row) -> float | None:
        """How many times faster ``baseline`` is than ``row`` (> 1: qwen3-rag wins)."""
        base = next((r for r in self.rows if r.contender == self.baseline), None)
        if base is None or base.seconds <= 0:
            return None
        return row.seconds / base.seconds

    def as_json(self) -> dict[str, Any]:
        """The section as the main suite's JSON keeps it (each row with its ``ratio``)."""
        rows = [
            {
                "contender": r.contender,
                "seconds": r.seconds,
                "items": r.items,
                "tokens": r.tokens,
                "max_abs_diff": r.max_abs_diff,
                "ratio": self.ratio(r),
                "note": r.note,
                **r.extra,
            }
            for r in self.rows
        ]
        return {
            "key": self.key,
            "title": self.title,
            "available": self.available,
            "baseline": self.baseline,
            "unit": self.unit,
            "notes": self.notes,
            "extra": self.extra,
            "rows": rows,
        }


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (noise on a shared machine only ever adds time)."""
    best = float("inf")
    result: Any = None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def unavailable(key: str, title: str, why: str) -> Section:
    return Section(key, title, available=False, notes=[f"not available: {why}"])


def reranker_template() -> tuple[str, str, str]:
    """``(prefix, suffix, default instruction)`` of the official reranker prompt, from qwen3_rag.

    Read from qwen3_rag's prompt module wherever it lives (``_prompts`` or ``prompts``), so the
    peers that take text (vLLM, Infinity) get exactly the strings the runtime uses.
    """
    import importlib

    from qwen3_rag import DEFAULT_QUERY_INSTRUCTION

    for name in ("qwen3_rag._prompts", "qwen3_rag._prompts"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return module.RERANKER_PREFIX, module.RERANKER_SUFFIX, DEFAULT_QUERY_INSTRUCTION
    raise ImportError("qwen3_rag has no prompt module (_prompts or prompts) with RERANKER_PREFIX")


def load_average() -> float:
    """The 1-minute load average (the machine is shared: every suite records how busy it was)."""
    import os

    try:
        return float(os.getloadavg()[0])
    except OSError:
        return float("nan")
