"""One command for every measurement: ``python -m benchmarks.run --quick`` (or ``--shape 0.6b``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .common import Section, Settings, unavailable

SECTIONS = ("embedding", "concurrency", "reranking", "memory", "pipeline", "hardware", "levers")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer inputs (a few minutes on a laptop CPU)")
    parser.add_argument("--shape", choices=("micro", "small", "0.6b"), default="small")
    parser.add_argument("--documents", type=int, help="passages for the embedding run")
    parser.add_argument("--repeat", type=int, help="timed runs per contender (best is kept)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these measurements")
    parser.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="skip these measurements")
    parser.add_argument("--pipeline-chunks", type=int, help="chunks to ingest (default 10000; quick 500)")
    parser.add_argument("--concurrent", type=int, default=256, help="concurrent single-query requests")
    parser.add_argument("--out", default="docs", help="folder for benchmarks.md and benchmarks.png")
    parser.add_argument("--json", help="also write the raw results to this JSON file")
    parser.add_argument(
        "--cache-dir",
        default=os.environ.get("QWEN3_RAG_BENCH_CACHE", str(Path(tempfile.gettempdir()) / "qwen3-rag-bench")),
        help="where the random-weight checkpoints are written once and reused",
    )
    return parser.parse_args(argv)


def build_settings(args: argparse.Namespace) -> Settings:
    from .checkpoints import SHAPES, load_fast_tokenizer, write_checkpoints
    from .corpus import build_corpus

    shape = SHAPES[args.shape]
    paths = write_checkpoints(shape, Path(args.cache_dir))
    quick = bool(args.quick)
    if args.shape == "micro":
        documents, scenarios, chunks, repeat = 24, ((1, 8), (2, 4)), 40, 1
    elif quick:
        documents, scenarios, chunks, repeat = 128, ((1, 50), (4, 25)), 500, 1
    else:
        documents, scenarios, chunks, repeat = 512, ((1, 100), (16, 50)), 10_000, 2
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


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = parse_args(argv)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.perf_counter()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    settings = build_settings(args)
    wanted = [s for s in (args.only or SECTIONS) if s not in args.skip]
    sections = run_sections(settings, wanted, log)
    from . import report

    command = "python -m benchmarks.run " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    path = report.write(
        settings, sections, command.strip(), Path(args.out), started, time.perf_counter() - t0
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_json(sections), indent=2), encoding="utf-8")
    log(f"[benchmarks] wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
