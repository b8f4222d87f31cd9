"""What every section shares: the run's settings, timing, and the result records."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qwen3_rag._environment import QWEN3_RAG_BENCH_CACHE

from .checkpoints import Shape
from .corpus import Corpus, build_corpus

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
CACHE_DIR = QWEN3_RAG_BENCH_CACHE.get()


def suite_parser(module: str, doc: str | None, *, shape: str | None = None) -> argparse.ArgumentParser:
    """A suite's command line with what they share: ``--json``, ``--cache-dir`` and ``--shape``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{module}", description=(doc or "").split("\n")[0]
    )
    if shape is not None:
        parser.add_argument("--shape", choices=("micro", "small", "0.6b"), default=shape)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--cache-dir", default=CACHE_DIR, help="where the checkpoints are written once")
    return parser


def corpus_options(
    parser: argparse.ArgumentParser, documents: int, max_tokens: int, queries: int, per_query: int
) -> None:
    """The mixed-length corpus and reranking workload options of the cpu-dtypes and peers suites."""
    parser.add_argument("--documents", type=int, default=documents, help="passages to embed")
    parser.add_argument("--median-tokens", type=int, default=64, help="median passage length")
    parser.add_argument("--max-tokens", type=int, default=max_tokens, help="longest passage")
    parser.add_argument("--queries", type=int, default=queries, help="reranking queries")
    parser.add_argument("--per-query", type=int, default=per_query, help="documents per reranking query")


class SuiteRun:
    """What every suite's JSON starts with: its command, when it started, how long it took and how
    busy the shared machine was; and the suite's progress log on stderr."""

    def __init__(self, module: str, argv: list[str] | None) -> None:
        self.name, self.t0, self.load_start = module, time.perf_counter(), load_average()
        self.command = f"python -m benchmarks.{module} " + shlex.join(
            argv if argv is not None else sys.argv[1:]
        )
        self.started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def log(self, message: str) -> None:
        print(f"[{self.name} {time.perf_counter() - self.t0:5.0f}s] {message}", file=sys.stderr, flush=True)

    def write(self, path: str | None, **fields: Any) -> dict[str, Any]:
        """The suite's record with ``fields``, written to ``path`` (as JSON) when one is given."""
        from .host import machine

        record = {
            "command": self.command.strip(),
            "started": self.started,
            "seconds": time.perf_counter() - self.t0,
            "load_average_start_end": [self.load_start, load_average()],
            "machine": machine(),
            **fields,
        }
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        return record


def run_module(
    module: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m module *args`` with this interpreter in a child process, its output captured as
    text; the caller reads the return code (never raised)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(env),
        check=False,
        timeout=timeout,
    )


def corpus_from_args(args: argparse.Namespace) -> Corpus:
    """The mixed-length corpus that :func:`corpus_options` describes."""
    from .checkpoints import load_fast_tokenizer

    return build_corpus(
        load_fast_tokenizer(),
        documents=args.documents,
        queries=max(args.queries, 8),
        median_tokens=args.median_tokens,
        max_tokens=args.max_tokens,
        min_tokens=min(16, args.max_tokens),
    )


def quiet_offline() -> None:
    """No model hub, no progress bars, no tokenizer threads competing with torch's."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


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

    @classmethod
    def compared(
        cls, contender: str, seconds: float, items: int, tokens: int, theirs: Any, ours: Any, *, note: str
    ) -> Row:
        """A peer's row: ``max_abs_diff`` is the largest gap between its output and qwen3-rag's."""
        gap = float(np.abs(np.asarray(theirs) - np.asarray(ours)).max())
        return cls(contender, seconds, items, tokens, gap, note=note)

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


def load_average() -> float:
    """The 1-minute load average (the machine is shared: every suite records how busy it was)."""
    try:
        return float(os.getloadavg()[0])
    except OSError:
        return float("nan")
