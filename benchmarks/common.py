"""What the suites share: where their JSON goes, their command lines, timing, and the main suite's
rows and sections."""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qwen3_rag._environment import QWEN3_RAG_BENCH_CACHE

from .checkpoints import Shape
from .corpus import Corpus, build_corpus

Data = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
SUITE_FILES = {  # each suite's JSON under --out (default docs/), in the report's order
    "main": "benchmarks.json",
    "cpu-dtypes": "benchmarks-cpu-dtypes.json",
    "serving": "benchmarks-serving.json",
    "ingest": "benchmarks-ingest-memory.json",
    "store": "benchmarks-store.json",
    "cli": "benchmarks-cli.json",
    "parsers": "benchmarks-parsers.json",
}
SUITES = ("main", "cpu-dtypes", "serving", "ingest", "store", "parsers", "cli")  # run order
RUN_FILE = "benchmarks-run.json"
CACHE_DIR = QWEN3_RAG_BENCH_CACHE.get()


def suite_parser(module: str, doc: str | None, *, shape: str | None = None) -> argparse.ArgumentParser:
    """A suite's command line with what they share: ``--json``, ``--cache-dir`` and ``--shape``."""
    description = (doc or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{module}", description=description)
    if shape is not None:
        parser.add_argument("--shape", choices=("micro", "small", "0.6b"), default=shape)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--cache-dir", default=CACHE_DIR, help="where the checkpoints are written once")
    return parser


def corpus_options(
    parser: argparse.ArgumentParser, documents: int, max_tokens: int, queries: int, per_query: int
) -> None:
    """The cpu-dtypes suite's mixed-length corpus and reranking workload options."""
    parser.add_argument("--documents", type=int, default=documents, help="passages to embed")
    parser.add_argument("--median-tokens", type=int, default=64, help="median passage length")
    parser.add_argument("--max-tokens", type=int, default=max_tokens, help="longest passage")
    parser.add_argument("--queries", type=int, default=queries, help="reranking queries")
    parser.add_argument("--per-query", type=int, default=per_query, help="documents per reranking query")


def corpus_from_args(args: argparse.Namespace) -> Corpus:
    """The mixed-length corpus that :func:`corpus_options` describes."""
    from .checkpoints import load_fast_tokenizer

    return build_corpus(load_fast_tokenizer(), documents=args.documents, queries=max(args.queries, 8),
                        median_tokens=args.median_tokens, max_tokens=args.max_tokens,
                        min_tokens=min(16, args.max_tokens))  # fmt: skip


class SuiteRun:
    """A suite's record (its command, start, duration, how busy the shared machine was) and its log."""

    def __init__(self, module: str, argv: list[str] | None) -> None:
        self.name, self.t0, self.load_start = module, time.perf_counter(), load_average()
        args = argv if argv is not None else sys.argv[1:]
        self.command = f"python -m benchmarks.{module} " + shlex.join(args)
        self.started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def log(self, message: str) -> None:
        print(f"[{self.name} {time.perf_counter() - self.t0:5.0f}s] {message}", file=sys.stderr, flush=True)

    def write(self, path: str | None, **fields: Any) -> Data:
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
    module: str, args: Sequence[str], *, env: Mapping[str, str], timeout: float, cwd: str | Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m module *args`` in a child process, output captured; the caller reads the return code."""
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env={**env}, check=False,
                          timeout=timeout)


def quiet_offline() -> None:
    """No model hub, no progress bars, no tokenizer threads competing with torch's."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(name, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (noise on a shared machine only ever adds time), and the output."""
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def load_average() -> float:
    """The 1-minute load average (the machine is shared: every suite records how busy it was)."""
    return float(os.getloadavg()[0]) if hasattr(os, "getloadavg") else float("nan")


# ----------------------------------------------------------------------------- the main suite
@dataclass
class Settings:
    """The main suite's inputs: checkpoints of one shape, the corpus, and how much of each workload."""

    shape: Shape
    paths: dict[str, str]
    corpus: Corpus
    repeat: int
    rerank_scenarios: tuple[tuple[int, int], ...]  # (queries, documents per query)
    concurrent: int


def row(contender: str, seconds: float, items: int = 0, tokens: int = 0, diff: float | None = None,
        note: str = "", **extra: Any) -> Data:
    """One contender in one measurement (``diff``: its largest output gap to the reference)."""
    return {"contender": contender, "seconds": seconds, "items": items, "tokens": tokens,
            "max_abs_diff": diff, "ratio": None, "note": note, **extra}


def section(key: str, title: str, rows: list[Data], *, baseline: str = "qwen3-rag", unit: str = "texts/s",
            notes: Sequence[str] = (), extra: Data | None = None) -> Data:
    """One measurement; each row's ``ratio``: its time / the ``baseline`` row's (> 1: baseline faster)."""
    base = next((r["seconds"] for r in rows if r["contender"] == baseline), 0.0)
    for r in rows:
        r["ratio"] = r["seconds"] / base if base > 0 else None
    return {"key": key, "title": title, "available": True, "baseline": baseline, "unit": unit,
            "notes": list(notes), "extra": extra or {}, "rows": rows}


def unavailable(key: str, why: str) -> Data:
    return section(key, key.capitalize(), []) | {"available": False, "notes": [f"not available: {why}"]}


def gap(theirs: Any, ours: Any) -> float:
    return float(np.abs(np.asarray(theirs, dtype=np.float64) - np.asarray(ours, dtype=np.float64)).max())
