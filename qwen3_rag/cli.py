"""The ``qwen3-rag`` command: ingest files, query them, chat over them.

    qwen3-rag ingest ./docs
    qwen3-rag query "How do I rotate the API key?"
    qwen3-rag chat

Errors the user can fix (missing collection, wrong model for a collection, unreachable server,
missing model) print one line and exit with status 1; no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .errors import Qwen3RagError
from .runtime import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL

EXIT_ERROR = 1


def _common(parser: argparse.ArgumentParser) -> None:
    store = parser.add_argument_group("store")
    store.add_argument(
        "--collection", default="qwen3_rag", help="Qdrant collection name (default: qwen3_rag)"
    )
    where = store.add_mutually_exclusive_group()
    where.add_argument(
        "--qdrant-path",
        help="embedded Qdrant folder, or ':memory:' (default: ./.qwen3-rag/qdrant, or $QDRANT_URL when set)",
    )
    where.add_argument(
        "--qdrant-url", help="Qdrant server URL, e.g. http://localhost:6333 (API key: $QDRANT_API_KEY)"
    )
    models = parser.add_argument_group("models")
    models.add_argument(
        "--embedding-model",
        help=f"Hub id or local folder (default: the collection's own model, else {DEFAULT_EMBEDDING_MODEL})",
    )
    models.add_argument(
        "--reranker-model",
        default=DEFAULT_RERANKER_MODEL,
        help=f"Hub id or local folder (default: {DEFAULT_RERANKER_MODEL})",
    )
    models.add_argument(
        "--dimensions", type=int, help="Matryoshka embedding size (default: the model's full size)"
    )
    models.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps (default: auto)")
    models.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16 (default: auto)")
    search = parser.add_argument_group("retrieval")
    search.add_argument("--top-k", type=int, default=50, help="candidates from Qdrant (default: 50)")
    search.add_argument("--top-n", type=int, default=5, help="results kept after reranking (default: 5)")
    search.add_argument(
        "--hybrid",
        action="store_true",
        help="fuse dense and sparse (token) matches by reciprocal rank fusion",
    )
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="only chunks whose payload FIELD equals VALUE (repeatable), e.g. source=/docs/a.md",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qwen3-rag",
        description="Two-stage RAG retrieval with Qwen3-Embedding and Qwen3-Reranker on Qdrant.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="chunk, embed and store files or folders")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (recursively)")
    ingest.add_argument(
        "--chunk-tokens", type=int, help="tokens per chunk (default: as the collection last used, else 512)"
    )
    ingest.add_argument(
        "--chunk-overlap", type=int, help="tokens shared by neighbours (default: as last used, else 64)"
    )
    ingest.add_argument(
        "--batch-size", type=int, default=64, help="chunks per embed+upsert batch (default: 64)"
    )
    _common(ingest)

    query = sub.add_parser("query", help="answer one question with the top reranked passages")
    query.add_argument("question")
    query.add_argument("--json", action="store_true", help="print the results as JSON")
    _common(query)

    chat = sub.add_parser("chat", help="ask questions interactively (one per line on stdin)")
    chat.add_argument(
        "--llm-url", help="OpenAI-compatible endpoint for answers, e.g. http://localhost:11434/v1"
    )
    chat.add_argument("--llm-model", default="qwen3", help="model name at --llm-url (default: qwen3)")
    _common(chat)
    return parser


def _open_store(args: argparse.Namespace) -> Any:
    from .pipeline import QdrantStore

    if args.qdrant_url:
        return QdrantStore(args.collection, url=args.qdrant_url)
    return QdrantStore(args.collection, path=args.qdrant_path)


def _load_embedder(args: argparse.Namespace, recorded: Any) -> Any:
    from .pipeline.store import model_identity
    from .runtime import Qwen3Embedder

    model = args.embedding_model
    dimensions = args.dimensions
    if recorded is not None and (model is None or model_identity(model) == model_identity(recorded.model)):
        # Default to the collection's own vector space, so queries need no model flags.
        model = model or recorded.model
        dimensions = dimensions or recorded.dimensions
    return Qwen3Embedder.load(
        model or DEFAULT_EMBEDDING_MODEL, device=args.device, dtype=args.dtype, dimensions=dimensions
    )


def _spec(embedder: Any) -> Any:
    from .pipeline import EmbeddingSpec

    return EmbeddingSpec.for_embedder(embedder)


def _filters(items: Sequence[str]) -> dict[str, Any] | None:
    from .errors import InvalidOptionError

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidOptionError(f"--filter wants FIELD=VALUE, got {item!r}.")
        parsed: Any = int(value) if value.lstrip("-").isdigit() else value
        out.setdefault(key, []).append(parsed)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()} or None


def _cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    from .pipeline import Ingestor

    with _open_store(args) as store:
        recorded = store.open() if store.exists() else None
        embedder = _load_embedder(args, recorded)
        ingestor = Ingestor(
            store,
            embedder,
            chunk_tokens=args.chunk_tokens,
            overlap=args.chunk_overlap,
            batch_size=args.batch_size,
            progress=False if args.no_progress else None,
        )
        report = ingestor.ingest(args.paths)
        print(f"{report.summary()}. Collection {args.collection!r}: {store.count()} chunks.", file=out)
        for skipped in report.skipped:
            print(f"  skipped {skipped.path}: {skipped.reason}", file=out)
    return 0


def _retriever(args: argparse.Namespace, store: Any) -> Any:
    from .pipeline import TwoStageRetriever
    from .runtime import Qwen3Reranker

    recorded = store.open()  # a missing collection fails here, before any model is loaded
    embedder = _load_embedder(args, recorded)
    store.open(_spec(embedder))
    reranker = Qwen3Reranker.load(args.reranker_model, device=args.device, dtype=args.dtype)
    return TwoStageRetriever(
        store, embedder, reranker, top_k=args.top_k, top_n=args.top_n, hybrid=args.hybrid
    )


def _print_results(question: str, results: Sequence[Any], out: TextIO) -> None:
    from .pipeline import extractive_answer

    print(extractive_answer(question, results), file=out)


def _cmd_query(args: argparse.Namespace, out: TextIO) -> int:
    with _open_store(args) as store:
        retriever = _retriever(args, store)
        results = retriever.retrieve(args.question, filters=_filters(args.filter))
        if args.json:
            payload = {
                "query": args.question,
                "collection": args.collection,
                "hybrid": args.hybrid,
                "results": [r.to_dict() for r in results],
            }
            print(json.dumps(payload, ensure_ascii=False, indent=2), file=out)
        else:
            _print_results(args.question, results, out)
    return 0


def _cmd_chat(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .pipeline import OpenAICompatibleChat, build_messages

    interactive = stdin.isatty()
    with _open_store(args) as store:
        retriever = _retriever(args, store)
        chat = OpenAICompatibleChat(args.llm_url, args.llm_model) if args.llm_url else None
        filters = _filters(args.filter)
        if interactive:
            print("Ask a question (empty line or Ctrl-D to quit).", file=out)
        while True:
            if interactive:
                print("> ", end="", file=out, flush=True)
            line = stdin.readline()
            question = line.strip()
            if not line or (interactive and not question) or question in {"exit", "quit"}:
                break
            if not question:
                continue
            results = retriever.retrieve(question, filters=filters)
            if chat is not None and results:
                print(chat.complete(build_messages(question, results)), file=out)
                print("Sources: " + ", ".join(sorted({r.source for r in results})), file=out)
            else:
                _print_results(question, results, out)
            print(file=out, flush=True)
    return 0


def _quiet_libraries(no_progress: bool) -> None:
    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stderr)
    if no_progress or not sys.stderr.isatty():
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:  # an optional nicety; never fail the command over it
            pass


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    _quiet_libraries(args.no_progress)
    try:
        if args.command == "ingest":
            return _cmd_ingest(args, out)
        if args.command == "query":
            return _cmd_query(args, out)
        return _cmd_chat(args, out, stdin or sys.stdin)
    except Qwen3RagError as exc:
        # One line: the messages already say what was wrong and how to fix it.
        print(f"qwen3-rag: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qwen3-rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
