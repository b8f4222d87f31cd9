"""``qwen3-rag eval``: the argument parser and the function that runs an evaluation.

    qwen3-rag eval ./scifact --chart scifact.png --save-runs runs/

Bad input (a missing file, a malformed line, qrels naming unknown documents, a missing optional
dependency) is reported in one line naming the file and line, before any model loads; exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import time
from typing import Any, TextIO

from .._cli_filters import FILTER_HELP, parse_filters
from .._cli_hardware import add_hardware_arguments, hardware_options
from .._errors import Qwen3RagError
from .._runtime import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from .._runtime.validation import check_positive_int
from ._beir import BeirDataset, load_beir
from ._evaluate import DEFAULT_CONCURRENCY, DEFAULT_TOP_K, EvalResult, evaluate_beir
from ._metrics import check_trec_ids, require_metrics, write_runs
from ._report import as_json, chart, require_chart, table
from ._runs import MODES

EXIT_ERROR = 1


def add_eval_parser(subparsers: Any) -> None:
    """Register ``eval`` on an ``argparse`` sub-parser collection (``parser.add_subparsers()``)."""
    parser = subparsers.add_parser(
        "eval",
        help="measure dense, hybrid and reranked retrieval on a BEIR-layout data set",
        description="Ingest a BEIR-layout data set (corpus.jsonl, queries.jsonl, qrels/test.tsv), "
        "run every judged query as dense, hybrid, dense + rerank and hybrid + rerank, and report "
        "nDCG@10, Recall@10, Recall@100 and MRR@10 per mode (computed by ir-measures). Needs "
        "pip install 'qwen3-rag[eval]'.",
    )
    parser.add_argument(
        "data_dir", metavar="DATA_DIR", help="folder with corpus.jsonl, queries.jsonl, qrels/"
    )
    parser.add_argument("--split", default="test", help="qrels/<SPLIT>.tsv to evaluate (default: test)")
    parser.add_argument(
        "--max-queries", type=int, metavar="N", help="evaluate only the first N judged queries (a quick look)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    out.add_argument("--chart", metavar="PATH", help="write a bar chart of the metrics as a PNG")
    out.add_argument(
        "--save-runs",
        metavar="DIR",
        help="write one TREC run file per mode and qrels.txt of the evaluated queries",
    )
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    store = parser.add_argument_group(
        "store (default: a temporary in-memory collection; any of these keeps it)"
    )
    store.add_argument("--keep", action="store_true", help="keep the collection (default store and name)")
    store.add_argument("--collection", help="collection name (default: eval_<DATA_DIR name>)")
    where = store.add_mutually_exclusive_group()
    where.add_argument("--qdrant-path", help="embedded Qdrant folder (default: ./.qwen3-rag/qdrant)")
    where.add_argument("--qdrant-url", help="Qdrant server URL (API key: $QDRANT_API_KEY)")
    models = parser.add_argument_group("models")
    models.add_argument(
        "--embedding-model",
        default=DEFAULT_EMBEDDING_MODEL,
        help=f"Hub id or local folder (default: {DEFAULT_EMBEDDING_MODEL})",
    )
    models.add_argument(
        "--reranker-model",
        default=DEFAULT_RERANKER_MODEL,
        help=f"Hub id or local folder (default: {DEFAULT_RERANKER_MODEL})",
    )
    models.add_argument("--dimensions", type=int, help="Matryoshka embedding size (default: full size)")
    models.add_argument(
        "--server",
        metavar="URL",
        default=os.environ.get("QWEN3_RAG_SERVER") or None,
        help="a running `qwen3-rag serve` for both models, e.g. http://host:8000/v1: no model loads "
        "here (default: $QWEN3_RAG_SERVER); models not named are the ones it serves",
    )
    add_hardware_arguments(models)
    models.add_argument(
        "--instruction", help="task instruction for query embedding and reranking (default: the models')"
    )
    search = parser.add_argument_group("retrieval")
    search.add_argument(
        "--top-k",
        type=int,
        metavar="K",
        default=DEFAULT_TOP_K,
        help=f"chunks retrieved per query, and reranked (default: {DEFAULT_TOP_K}, so Recall@100 "
        "measures the whole candidate list)",
    )
    search.add_argument(
        "--chunk-tokens", type=int, help="tokens per chunk (default: as the collection last used, else 512)"
    )
    search.add_argument(
        "--chunk-overlap", type=int, help="tokens shared by neighbours (default: as last used, else 64)"
    )
    search.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE", help=FILTER_HELP)
    search.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"queries in flight at once, batched together (default: {DEFAULT_CONCURRENCY})",
    )


def _check(args: argparse.Namespace) -> BeirDataset:
    """Everything that can be checked before the models load; the data set, read and checked."""
    for value, flag in (
        (args.max_queries, "--max-queries"),
        (args.top_k, "--top-k"),
        (args.chunk_tokens, "--chunk-tokens"),
        (args.concurrency, "--concurrency"),
    ):
        if value is not None:
            check_positive_int(value, flag)
    require_metrics()
    if args.chart:
        require_chart()
    dataset = load_beir(args.data_dir, args.split).limited(args.max_queries)
    if args.save_runs:
        check_trec_ids(dataset.corpus, "document")
        check_trec_ids(dataset.queries, "query")
    return dataset


def _collection_name(args: argparse.Namespace, dataset: BeirDataset) -> str:
    return args.collection or "eval_" + (re.sub(r"[^A-Za-z0-9_-]+", "_", dataset.name).strip("_") or "data")


def _open_store(args: argparse.Namespace, dataset: BeirDataset) -> tuple[Any, bool]:
    """The store and whether it is kept (any store option given)."""
    from ..pipeline import QdrantStore

    kept = bool(args.keep or args.collection or args.qdrant_path or args.qdrant_url)
    name = _collection_name(args, dataset)
    if not kept:
        return QdrantStore(name, location=":memory:"), False
    if args.qdrant_url:
        return QdrantStore(name, url=args.qdrant_url), True
    return QdrantStore(name, path=args.qdrant_path), True


def _load_models(args: argparse.Namespace) -> tuple[Any, Any]:
    from .._runtime import Qwen3Embedder, Qwen3Reranker

    if args.server:
        return _connect_models(args)
    hardware = hardware_options(args)
    embedder = Qwen3Embedder.load(args.embedding_model, dimensions=args.dimensions, **hardware)
    reranker = Qwen3Reranker.load(args.reranker_model, **hardware)
    return embedder, reranker


def _connect_models(args: argparse.Namespace) -> tuple[Any, Any]:
    """Both models on ``--server``; the default names become the ones it serves."""
    from .._runtime import Qwen3Embedder, Qwen3Reranker
    from .._runtime.remote import served_models

    served = served_models(args.server)
    if args.embedding_model == DEFAULT_EMBEDDING_MODEL:
        args.embedding_model = served.get("embedding", args.embedding_model)
    if args.reranker_model == DEFAULT_RERANKER_MODEL:
        args.reranker_model = served.get("reranker", args.reranker_model)
    remote = {"base_url": args.server, **({"quantize": args.quantize} if args.quantize else {})}
    embedder = Qwen3Embedder.load(args.embedding_model, dimensions=args.dimensions, **remote)
    return embedder, Qwen3Reranker.load(args.reranker_model, **remote)


def _details(args: argparse.Namespace, result: EvalResult, store: Any, kept: bool) -> dict[str, Any]:
    return {
        "queries": result.queries,
        "documents": result.index.documents,
        "chunks": result.index.chunks,
        **result.settings,
        "embedding_model": args.embedding_model,
        "reranker_model": args.reranker_model,
        "collection": store.collection if kept else None,
        "seconds": {"index": round(result.index.seconds, 3), "queries": round(result.query_seconds, 3)},
    }


def _summary(dataset: BeirDataset, result: EvalResult) -> str:
    index = result.index
    return (
        f"{dataset.name} ({dataset.split}): {index.documents} documents in {index.chunks} chunks "
        f"({index.embedded} embedded, {index.unchanged} unchanged) in {index.seconds:.1f} s; "
        f"{result.queries} queries x {len(MODES)} modes in {result.query_seconds:.1f} s, "
        f"top_k {result.settings['top_k']}."
    )


def _quiet(no_progress: bool) -> None:
    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stderr)
    if no_progress or not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def run_eval(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``qwen3-rag eval``; 0 on success, 1 with a one-line error on stderr otherwise."""
    out = out or sys.stdout
    progress = not args.no_progress and sys.stderr.isatty()
    _quiet(args.no_progress)
    try:
        dataset = _check(args)
        filters = parse_filters(args.filter)  # malformed: refused before anything is read or loaded
        started = time.perf_counter()
        store, kept = _open_store(args, dataset)
        with store:
            embedder, reranker = _load_models(args)
            result = asyncio.run(
                evaluate_beir(
                    dataset,
                    store,
                    embedder,
                    reranker,
                    top_k=args.top_k,
                    chunk_tokens=args.chunk_tokens,
                    chunk_overlap=args.chunk_overlap,
                    instruction=args.instruction,
                    concurrency=args.concurrency,
                    parallel_store_calls=args.concurrency if args.qdrant_url else 1,
                    progress=progress,
                    filters=filters,
                )
            )
        _report(args, dataset, result, store, kept, out)
        if not args.json:
            print(f"Total {time.perf_counter() - started:.1f} s.", file=sys.stderr)
        return 0
    except (Qwen3RagError, OSError) as exc:
        # One line: the messages say what was wrong and where (file:line for the data set).
        print(f"qwen3-rag eval: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qwen3-rag eval: interrupted", file=sys.stderr)
        return 130


def _report(
    args: argparse.Namespace, dataset: BeirDataset, result: EvalResult, store: Any, kept: bool, out: TextIO
) -> None:
    details = _details(args, result, store, kept)
    if args.save_runs:
        write_runs(args.save_runs, result.runs, dataset.qrels)
        details["runs"] = os.path.abspath(args.save_runs)
    if args.chart:
        title = f"{dataset.name}: {result.queries} queries, top_k {result.settings['top_k']}"
        details["chart"] = str(chart(args.chart, result.metrics, title).resolve())
    if result.foreign_points:
        logging.getLogger(__name__).warning(
            "qwen3-rag eval: %d candidates came from sources outside %s and were left out of the runs; "
            "evaluate in a collection of its own.",
            result.foreign_points,
            dataset.name,
        )
    if args.json:
        report = as_json(dataset=dataset.name, split=dataset.split, metrics=result.metrics, details=details)
        print(json.dumps(report, indent=2), file=out)
        return
    print(_summary(dataset, result), file=out)
    print(table(result.metrics), file=out)
    for key, label in (("collection", "Collection kept"), ("runs", "Runs"), ("chart", "Chart")):
        if details.get(key):
            print(f"{label}: {details[key]}", file=out)


def main(argv: list[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """``python -m qwen3_rag.evaluation DATA_DIR ...``: the command without the ``qwen3-rag`` parser."""
    parser = argparse.ArgumentParser(prog="qwen3-rag")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    return run_eval(parser.parse_args(["eval", *(sys.argv[1:] if argv is None else argv)]), stdout)
