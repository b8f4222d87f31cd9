"""One command for every measurement and the whole report: ``python -m benchmarks.run``.

With no options it runs every suite, each writing its JSON under ``--out`` (default ``docs/``),
then renders ``docs/benchmarks.md`` and ``docs/benchmarks.png`` from those JSON files:

- ``main``: qwen3-rag vs sentence-transformers and the official code (embedding, concurrency,
  reranking, memory, pipeline, hardware use, levers) -> ``benchmarks.json``;
- ``cpu-dtypes``: float32 / bfloat16 / int8 on the 0.6B shape -> ``benchmarks-cpu-dtypes.json``;
- ``peers``: qwen3-rag vs vLLM CPU (offline API) vs Infinity, fp32 and bf16 ->
  ``benchmarks-peers.json`` (vLLM and Infinity need ``bash .ci/setup-vllm`` /
  ``bash .ci/setup-infinity``; without them their rows say so);
- ``serving``: in-process vs ``qwen3-rag serve`` vs vLLM over HTTP, and a four-worker app's
  memory -> ``benchmarks-serving.json``;
- ``ingest``: peak memory of ingesting one big text file -> ``benchmarks-ingest-memory.json``;
- ``store``: the embedded store at 10k-300k points, Qdrant Edge vs local mode vs numpy ->
  ``benchmarks-store.json``;
- ``parsers``: document parsers on generated Office/HTML/EPUB/PDF files -> ``benchmarks-parsers.json``
  (the other candidates each in their own venv: ``--parser-venv docling=DIR``; rows measured
  earlier are kept).

``--suites`` picks some (the others' JSON files are kept and rendered as they are),
``--render-only`` re-renders from the saved JSON without measuring anything, ``--quick`` shrinks
every suite (what ``tests/benchmarks/test_smoke.py`` runs, with ``--shape micro``).
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
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import report
from .common import (
    CACHE_DIR,
    ROOT,
    RUN_FILE,
    SUITE_FILES,
    SUITES,
    Section,
    Settings,
    load_average,
    normalize_record,
    unavailable,
)
from .host import describe_host, machine, versions

SECTIONS = ("embedding", "concurrency", "reranking", "memory", "pipeline", "hardware", "levers")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=(__doc__ or "").split("\n")[0],
        epilog="Default: every suite at full size (about 20-25 minutes on a 2-core CPU).",
    )
    parser.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES), help="suites to run")
    switches = {
        "--render-only": "measure nothing; re-render the report",
        "--quick": "small inputs in every suite (a smoke run)",
        "--no-external": "leave out the engines that live in other environments (vLLM, Infinity)",
    }
    for flag, text in switches.items():
        parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument("--shape", choices=("micro", "small", "0.6b"), default="small", help="main/serving")
    parser.add_argument(
        "--dtype-shape",
        choices=("micro", "small", "0.6b"),
        help="shape of the cpu-dtypes and peers suites (default 0.6b; micro with --shape micro)",
    )
    parser.add_argument("--documents", type=int, help="passages for the main embedding run")
    parser.add_argument("--repeat", type=int, help="timed runs per contender in the main suite (best kept)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="main suite: only these measurements")
    parser.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="main suite: skip these")
    parser.add_argument("--pipeline-chunks", type=int, help="chunks to ingest (default 300)")
    parser.add_argument("--concurrent", type=int, default=256, help="concurrent single-query requests")
    parser.add_argument("--ingest-mb", type=float, help="ingest suite: text file size in MiB (default 4)")
    parser.add_argument(
        "--parser-venv", action="append", default=[], metavar="NAME=DIR", help="parsers suite: a candidate"
    )
    parser.add_argument("--out", default="docs", help="folder for benchmarks.md, the chart and the JSON")
    parser.add_argument("--json", help="also write the main suite's results to this JSON file")
    parser.add_argument(
        "--cache-dir",
        default=CACHE_DIR,
        help="where the random-weight checkpoints are written once and reused",
    )
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- main suite
def build_settings(args: argparse.Namespace) -> Settings:
    from .checkpoints import SHAPES, load_fast_tokenizer, write_checkpoints
    from .corpus import build_corpus

    shape = SHAPES[args.shape]
    paths = write_checkpoints(shape, Path(args.cache_dir))
    quick = bool(args.quick)
    if args.shape == "micro":
        documents, scenarios, chunks, repeat = 24, ((1, 8), (2, 4)), 40, 1
    elif quick:
        documents, scenarios, chunks, repeat = 64, ((1, 25), (4, 10)), 200, 1
    else:
        documents, scenarios, chunks, repeat = 96, ((1, 50), (4, 25)), 300, 2
    documents = args.documents or documents
    corpus = build_corpus(
        load_fast_tokenizer(), documents=documents, queries=max(64, min(args.concurrent, 256))
    )
    return Settings(
        shape=shape,
        paths={k: str(v) for k, v in paths.items()},
        corpus=corpus,
        repeat=args.repeat or repeat,
        rerank_scenarios=scenarios,
        concurrent_requests=args.concurrent,
        pipeline_chunks=args.pipeline_chunks or chunks,
        quick=quick or args.shape == "micro",
    )


def run_sections(settings: Settings, wanted: list[str], log: Callable[[str], None]) -> list[Section]:
    from . import concurrency, embedding, hardware, levers, memory, pipeline, reranking

    sections: list[Section] = []
    embedding_section: Section | None = None
    for name in wanted:
        log(f"[benchmarks] {name} ...")
        start = time.perf_counter()
        try:
            if name == "embedding":
                embedding_section = embedding.run(settings)
                sections.append(embedding_section)
            elif name == "concurrency":
                sections.append(concurrency.run(settings))
            elif name == "reranking":
                sections.extend(reranking.run(settings))
            elif name == "memory":
                sections.append(memory.run(settings))
            elif name == "pipeline":
                sections.append(pipeline.run(settings))
            elif name == "hardware":
                sections.append(hardware.run(settings, embedding_section))
            elif name == "levers":
                sections.extend(levers.run(settings))
        except Exception as exc:  # one broken measurement must not lose the others
            traceback.print_exc()
            sections.append(unavailable(name, name.capitalize(), f"failed: {type(exc).__name__}: {exc}"))
        log(f"[benchmarks] {name} done in {time.perf_counter() - start:.0f}s")
    return sections


def main_meta(
    settings: Settings, command: str, started: str, wall_s: float, load_start: float
) -> dict[str, Any]:
    """What the main suite's section of the report says about its run (kept in its JSON)."""
    return {
        "command": command,
        "started": started,
        "seconds": wall_s,
        "load_average_start_end": [load_start, load_average()],
        "shape": asdict(settings.shape),
        "body_params": settings.shape.body_params(),
        "corpus": settings.corpus.stats(),
        "embed_batch_size": settings.embed_batch_size,
        "rerank_batch_size": settings.rerank_batch_size,
        "repeat": settings.repeat,
        "machine": machine(),
        "host": describe_host(),
        "versions": versions(
            "qwen3-rag", "torch", "transformers", "tokenizers", "sentence-transformers", "qdrant-client"
        ),
    }


def run_main(args: argparse.Namespace, command: str, out: Path, log: Callable[[str], None]) -> None:
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    load_start = load_average()
    settings = build_settings(args)
    wanted = [s for s in (args.only or SECTIONS) if s not in args.skip]
    sections = run_sections(settings, wanted, log)
    data = {
        "meta": main_meta(settings, command, started, time.perf_counter() - t0, load_start),
        "sections": [section.as_json() for section in sections],
    }
    text = json.dumps(data, indent=2)
    (out / SUITE_FILES["main"]).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------- other suites
def suite_argv(name: str, args: argparse.Namespace, out: Path) -> list[str]:
    """The command line of a suite run as its own process (its sizes for this run)."""
    micro = args.shape == "micro"
    big = args.dtype_shape or ("micro" if micro else "0.6b")
    cache = ["--cache-dir", args.cache_dir]
    target = ["--json", str(out / SUITE_FILES[name])]
    if name == "cpu-dtypes":
        if args.quick:
            size = ["--documents", "10", "--queries", "2", "--per-query", "6", "--repeat", "1"]
            size += ["--profile", big, "--skip", "memory"]  # memory: a process per kernel, minutes
        else:
            # Reranking stays at 12 pairs: until the runtime's bf16 LM-head readout is fixed, each bf16
            # reranker row copies the whole 151,669 x 1024 head (~300 MB), and 24 rows at once took
            # this 24 GB machine, shared with other people's work, to its last megabytes.
            size = ["--documents", "32", "--median-tokens", "48", "--max-tokens", "192"]
            size += ["--queries", "2", "--per-query", "6", "--repeat", "2", "--profile", "small"]
        return ["benchmarks.cpu_dtypes", "--shape", big, *size, *cache, *target]
    if name == "peers":
        if args.quick:
            size = ["--documents", "8", "--queries", "2", "--per-query", "4", "--repeat", "1"]
        else:
            size = ["--documents", "32", "--median-tokens", "48", "--max-tokens", "192"]
            size += ["--queries", "2", "--per-query", "6", "--repeat", "2"]  # 12 pairs: see cpu-dtypes
        engines = ["--engines", "qwen3-rag"] if args.no_external else []
        return ["benchmarks.peers", "--shape", big, *size, *engines, *cache, *target]
    if name == "serving":
        if args.quick:
            size = ["--documents", "16", "--rerank-requests", "4", "--concurrency", "4", "--repeat", "1"]
            size += ["--workers", "2"]
        else:
            size = ["--documents", "192", "--rerank-requests", "32", "--repeat", "2"]
        skip = ["--skip", "vllm"] if args.no_external else []
        return ["benchmarks.serving", "--shape", args.shape, *size, *skip, *cache, *target]
    if name == "ingest":
        mb = args.ingest_mb or (0.1 if args.quick else 4.0)
        return ["benchmarks.ingest_memory", "--mb", f"{mb:g}", *target]
    if name == "cli":
        size = ["--files", "20", "--repeat", "1"] if args.quick else ["--files", "200", "--repeat", "3"]
        return ["benchmarks.cli_cold", *size, *target]
    if name == "store":
        sizes = ["2000"] if args.quick else ["10000", "50000", "100000", "300000"]
        return ["benchmarks.store", "--sizes", *sizes, *(["--queries", "6"] if args.quick else []), *target]
    if name == "parsers":
        size = ["--scale", "3", "--repeat", "1"] if args.quick else ["--scale", "300", "--repeat", "3"]
        venvs = [f"--venv={item}" for item in args.parser_venv]
        return ["benchmarks.parsers", *size, *venvs, *target]
    raise ValueError(f"unknown suite {name!r}")


def run_suite(argv: list[str], log: Callable[[str], None]) -> int:
    """Run one suite in its own process (its memory, threads and subprocesses end with it)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["TOKENIZERS_PARALLELISM"] = "false"
    log("[benchmarks] + python -m " + " ".join(shlex.quote(a) for a in argv))
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, check=False)
    return done.returncode


def save_record(path: Path, run: dict[str, Any], *, full: bool) -> None:
    """Keep the last run of every suite, and the runs of some suites made after it."""
    old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    record: dict[str, Any] = {"last_full": run, "later": []} if full else normalize_record(old)
    if not full:
        record["later"].append(run)
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")


# ----------------------------------------------------------------------------- entry point
def use_this_checkout() -> None:
    """Measure this checkout's code: its root and integration packages first on the import path.

    With an editable install of another checkout in the environment (a git worktree beside the
    main one), ``import langchain_qwen3_rag`` would otherwise load the other checkout's adapters
    against this checkout's ``qwen3_rag``. Subprocesses inherit it through ``PYTHONPATH``.
    """
    folders = [ROOT] + sorted(
        p for p in (ROOT / "integrations").glob("*") if p.is_dir() and any(p.glob("pyproject.toml"))
    )
    paths = [str(p) for p in folders]
    sys.path[:0] = [p for p in paths if p not in sys.path]
    old = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *([old] if old else [])])


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = (
        "python -m benchmarks.run "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    ).strip()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if not args.render_only:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        t0 = time.perf_counter()
        record: dict[str, Any] = {
            "command": command,
            "started": started,
            "load_average_start": load_average(),
            "suites": {},
        }
        for name in [s for s in SUITES if s in args.suites]:
            start = time.perf_counter()
            log(f"[benchmarks] suite {name} ...")
            if name == "main":
                try:
                    run_main(args, command, out, log)
                    status = 0
                except Exception:  # the other suites still run and the report still renders
                    traceback.print_exc()
                    status = 1
            else:
                status = run_suite(suite_argv(name, args, out), log)
            seconds = time.perf_counter() - start
            record["suites"][name] = {"seconds": seconds, "returncode": status}
            verdict = "ok" if status == 0 else f"FAILED ({status})"
            log(f"[benchmarks] suite {name}: {verdict} in {seconds:.0f}s")
        record["seconds"] = time.perf_counter() - t0
        record["load_average_end"] = load_average()
        save_record(out / RUN_FILE, record, full=set(args.suites) == set(SUITES))
    path = report.write(out)
    log(f"[benchmarks] wrote {path}")
    return 0


if __name__ == "__main__":
    use_this_checkout()  # the command line only: a test calling main() keeps its own import path
    sys.exit(main())
