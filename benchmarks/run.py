"""One command for every measurement and the whole report: ``python -m benchmarks.run``.

Each suite runs in its own process and writes its JSON under ``--out`` (default ``docs/``); then
``benchmarks.md`` and its chart are rendered from all of them (``benchmarks/report.py``; what each
suite measures is said there). ``--suites`` picks some (the others' JSON is kept), ``--render-only``
measures nothing, ``--quick`` shrinks every suite (the smoke test runs it with ``--shape micro``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import report
from .common import CACHE_DIR, ROOT, RUN_FILE, SUITE_FILES, SUITES, load_average

# Each suite's module and sizes (--quick, full); {big} is the cpu-dtypes shape. Full runs
# rerank 12 pairs: until the runtime's bf16 LM-head readout is fixed, each bf16 reranker row copies
# the whole 151,669 x 1024 head (~300 MB), and 24 rows took this shared 24 GB machine to its last MB.
# Quick cpu-dtypes runs skip memory (a process per kernel: minutes).
SIZES = {
    "main": ("main_suite --shape {shape} --concurrent {concurrent}", "--quick", ""),
    "cpu-dtypes": ("cpu_dtypes --shape {big}",
                   "--documents 10 --queries 2 --per-query 6 --repeat 1 --skip memory",
                   "--documents 32 --median-tokens 48 --max-tokens 192 --queries 2 --per-query 6 --repeat 2"),
    "serving": ("serving --shape {shape}",
                "--documents 16 --rerank-requests 4 --concurrency 4 --repeat 1 --workers 2",
                "--documents 192 --rerank-requests 32 --repeat 2"),
    "ingest": ("ingest_memory", "--mb 0.1", "--mb 4"),
    "store": ("store", "--sizes 2000 --queries 6", "--sizes 10000 50000 100000 300000"),
    "parsers": ("parsers", "--scale 3 --repeat 1", "--scale 300 --repeat 3"),
    "cli": ("cli_cold", "--files 20 --repeat 1", "--files 200 --repeat 3"),
}  # fmt: skip
CHECKPOINTS = ("main", "cpu-dtypes", "serving")  # the suites that take --cache-dir


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description="Suites, then the report")
    parser.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES), help="suites to run")
    parser.add_argument("--render-only", action="store_true", help="measure nothing; re-render the report")
    parser.add_argument("--quick", action="store_true", help="small inputs in every suite (a smoke run)")
    parser.add_argument("--no-external", action="store_true", help="leave out vLLM")
    parser.add_argument("--shape", choices=("micro", "small", "0.6b"), default="small", help="main/serving")
    parser.add_argument("--documents", type=int, help="main suite: passages to embed")
    parser.add_argument("--only", nargs="+", help="main suite: only these measurements")
    parser.add_argument("--concurrent", type=int, default=256, help="main suite: concurrent queries")
    parser.add_argument("--ingest-mb", type=float, help="ingest suite: text file size in MiB (default 4)")
    parser.add_argument("--out", default="docs", help="folder for benchmarks.md, the chart and the JSON")
    parser.add_argument("--cache-dir", default=CACHE_DIR, help="where the checkpoints are written once")
    return parser.parse_args(argv)


def suite_argv(name: str, args: argparse.Namespace, out: Path) -> list[str]:
    """The command line of a suite (``python -m`` and these) with its sizes for this run."""
    module, quick, full = SIZES[name]
    big = "micro" if args.shape == "micro" else "0.6b"
    sizes = f"{module} {quick if args.quick else full}"
    words = sizes.format(shape=args.shape, big=big, concurrent=args.concurrent)
    extra = {
        "main": ["--documents", str(args.documents)] * bool(args.documents)
        + ["--only", *(args.only or [])] * bool(args.only),
        "serving": ["--skip", "vllm"] * args.no_external,
        "ingest": ["--mb", f"{args.ingest_mb:g}"] if args.ingest_mb else [],
    }.get(name, [])
    cache = ["--cache-dir", args.cache_dir] if name in CHECKPOINTS else []
    first, *rest = words.split()
    return [f"benchmarks.{first}", *rest, *extra, *cache, "--json", str(out / SUITE_FILES[name])]


def run_suites(args: argparse.Namespace, command: str, out: Path) -> None:
    """Each suite in its own process (its memory, threads and children end with it), then the run's
    record: the last run of every suite, and the runs of some suites made after it."""
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started, t0 = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), time.perf_counter()
    run: dict[str, Any] = {"command": command, "started": started, "load_average_start": load_average()}
    run["suites"] = {}
    for name in [s for s in SUITES if s in args.suites]:
        argv, start = suite_argv(name, args, out), time.perf_counter()
        print("[benchmarks] + python -m " + shlex.join(argv), file=sys.stderr, flush=True)
        code = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, check=False).returncode
        run["suites"][name] = {"seconds": time.perf_counter() - start, "returncode": code}
        print(f"[benchmarks] suite {name}: exit {code}", file=sys.stderr, flush=True)
    run |= {"seconds": time.perf_counter() - t0, "load_average_end": load_average()}
    path = out / RUN_FILE
    if set(args.suites) == set(SUITES):
        path.write_text(json.dumps({"last_full": run, "later": []}, indent=2), encoding="utf-8")
    else:
        record: dict[str, Any] = {"last_full": None, "later": []}
        record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else record
        record["later"].append(run)
        path.write_text(json.dumps(record, indent=2), encoding="utf-8")


def use_this_checkout() -> None:
    """This checkout's root and integration packages first on the import path, also for the suites'
    processes (``PYTHONPATH``): an editable install of another checkout (a git worktree) would
    otherwise load that checkout's adapters against this one's ``qwen3_rag``."""
    folders = [ROOT, *sorted(p.parent for p in (ROOT / "integrations").glob("*/pyproject.toml"))]
    paths = [str(p) for p in folders]
    sys.path[:0] = [p for p in paths if p not in sys.path]
    os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.render_only:
        command = f"python -m benchmarks.run {shlex.join(sys.argv[1:] if argv is None else argv)}"
        run_suites(args, command.strip(), out)
    print(f"[benchmarks] wrote {report.write(out)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    use_this_checkout()  # the command line only: a test calling main() keeps its own import path
    sys.exit(main())
