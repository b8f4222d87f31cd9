"""The ``qwen3-rag`` command: ingest files, query them, chat over them.

    qwen3-rag ingest ./docs
    qwen3-rag query "How do I rotate the API key?"
    qwen3-rag chat
    qwen3-rag sources
    qwen3-rag remove ./docs/old.md
    qwen3-rag store push --to-url http://qdrant:6333

Errors the user can fix (missing collection, wrong model for a collection, unreachable server,
missing or damaged store, missing model, bad input) print one line and exit with status 1; no
traceback. Input that can be checked without the models is checked before they load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ._cli_guards import check_text, new_store_folder, prepare_store_folder
from ._cli_hardware import add_hardware_arguments, hardware_options
from ._cli_store import add_store_parser, run_store
from ._cli_watch import add_watch_arguments, check_watch_available, watch_after_ingest
from ._errors import InvalidOptionError, Qwen3RagError
from ._prompts import TASK_INSTRUCTIONS
from ._runtime import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from .evaluation._command import add_eval_parser, run_eval
from .server._command import add_serve_parser, run_serve

EXIT_ERROR = 1


def _store_options(parser: argparse.ArgumentParser) -> None:
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


def _common(parser: argparse.ArgumentParser) -> None:
    _store_options(parser)
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
    models.add_argument(
        "--embedding-url",
        metavar="URL",
        help="run the embedding model on this server (qwen3-rag serve or vLLM), e.g. "
        "http://host:8000/v1; API key: $QWEN3_RAG_API_KEY",
    )
    models.add_argument(
        "--reranker-url", metavar="URL", help="run the reranker on this server (default: --embedding-url's)"
    )
    add_hardware_arguments(models)
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
        help="only chunks whose FIELD equals VALUE (repeatable): source=PATH (resolved as ingest "
        "does) or chunk_index=N",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _instruction_options(parser: argparse.ArgumentParser) -> None:
    """For the commands that embed queries and rerank (documents never get an instruction)."""
    task = parser.add_argument_group("task").add_mutually_exclusive_group()
    task.add_argument(
        "--instruction",
        help="the task instruction for the query embedding and the reranker (default: web search)",
    )
    task.add_argument(
        "--task",
        choices=sorted(TASK_INSTRUCTIONS),
        help="a named instruction preset from the official evaluation",
    )
    parser.add_argument_group("reranking").add_argument(
        "--min-score",
        type=float,
        metavar="P",
        help="drop passages whose rerank score P(yes) is below P, in [0, 1] (default: keep the "
        "--top-n best); no passage left is a valid answer",
    )


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
    ingest.add_argument(
        "--keep-missing",
        action="store_true",
        help="keep the chunks of files gone from the given folders (default: remove them)",
    )
    ingest.add_argument(
        "--chunk-headers",
        action=argparse.BooleanOptionalAction,
        help="embed each chunk with its document's title and heading path before it; the returned "
        "text stays the chunk (default: as the collection last used, else off)",
    )
    add_watch_arguments(ingest)
    _common(ingest)

    query = sub.add_parser("query", help="answer one question with the top reranked passages")
    query.add_argument("question")
    query.add_argument("--json", action="store_true", help="print the results as JSON")
    _common(query)
    _instruction_options(query)

    chat = sub.add_parser("chat", help="ask questions interactively (one per line on stdin)")
    chat.add_argument(
        "--llm-url", help="OpenAI-compatible endpoint for answers, e.g. http://localhost:11434/v1"
    )
    chat.add_argument("--llm-model", default="qwen3", help="model name at --llm-url (default: qwen3)")
    _common(chat)
    _instruction_options(chat)

    sources = sub.add_parser("sources", help="list the ingested files with their chunk counts")
    sources.add_argument("--json", action="store_true", help="print the sources as JSON")
    _store_options(sources)

    remove = sub.add_parser("remove", help="delete files (or everything under folders) from a collection")
    remove.add_argument(
        "paths", nargs="+", metavar="PATH", help="ingested files or folders (they need not exist any more)"
    )
    _store_options(remove)

    add_serve_parser(sub)
    add_eval_parser(sub)
    add_store_parser(sub)
    return parser


def _open_store(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The store; only ``ingest`` may create one (a reader's mistyped path is an error)."""
    from .pipeline import QdrantStore

    if args.qdrant_url:
        return QdrantStore(args.collection, url=args.qdrant_url)
    if not create:
        _prepare_folder(args, create=False)
    return QdrantStore(args.collection, path=args.qdrant_path, create=create)


def _embedded_folder(args: argparse.Namespace) -> str | None:
    from .pipeline._store import DEFAULT_QDRANT_PATH

    path = args.qdrant_path or (None if os.environ.get("QDRANT_URL") else DEFAULT_QDRANT_PATH)
    return None if args.qdrant_url or path is None or path == ":memory:" else str(path)


def _prepare_folder(args: argparse.Namespace, *, create: bool) -> None:
    """A reader's embedded store folder, checked for writing (see _cli_guards)."""
    folder = _embedded_folder(args)
    if folder is not None:
        prepare_store_folder(folder, create=create)


def _ingest_folder(args: argparse.Namespace) -> Any:
    """Around ``ingest``: the folder checked for writing, and removed again if this run made it
    and stored nothing in it."""
    folder = _embedded_folder(args)
    return contextlib.nullcontext() if folder is None else new_store_folder(folder, args.collection)


def _filters(items: Sequence[str]) -> dict[str, Any] | None:
    """``--filter`` values as a filter mapping; unknown fields and bad values are refused."""
    from .pipeline._sources import as_source
    from .pipeline._store import CHUNK_FIELDS

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidOptionError(f"--filter wants FIELD=VALUE, got {item!r}.")
        if key not in CHUNK_FIELDS:
            raise InvalidOptionError(
                f"--filter field {key!r} is not stored with the chunks; the fields are "
                f"{', '.join(CHUNK_FIELDS)}."
            )
        parsed: Any = value
        if key == "source":
            parsed = as_source(value)  # the key ingest stored: absolute, symlinks resolved
        elif key == "chunk_index":
            if not value.lstrip("-").isdigit():
                raise InvalidOptionError(f"--filter chunk_index wants a whole number, got {value!r}.")
            parsed = int(value)
        out.setdefault(key, []).append(parsed)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()} or None


def _check_sources_exist(store: Any, filters: dict[str, Any] | None) -> None:
    """A ``source`` filter naming nothing ingested is a mistake to report, not an empty answer."""
    wanted = (filters or {}).get("source")
    if wanted is None:
        return
    known = {r.source for r in store.sources.all()}
    for source in [wanted] if isinstance(wanted, str) else wanted:
        if source not in known:
            raise InvalidOptionError(
                f"--filter source={source} matches no ingested file in collection {store.collection!r}; "
                "`qwen3-rag sources` lists them."
            )


def _question(text: str) -> str:
    check_text(text, "The question")
    if not text.strip():
        raise InvalidOptionError('The question is empty; ask something, e.g. qwen3-rag query "What is X?".')
    return text


def _existing_paths(paths: Sequence[str]) -> list[str]:
    missing = [p for p in paths if not os.path.exists(os.path.expanduser(p))]
    if missing:
        raise InvalidOptionError(
            f"No such file or folder: {', '.join(missing)}. To delete what was ingested from a path that "
            "is gone, use `qwen3-rag remove PATH`."
        )
    return list(paths)


def _cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    from .pipeline import Ingestor

    paths = _existing_paths(args.paths)
    check_watch_available(args)
    with _ingest_folder(args), _open_store(args, create=True) as store:
        from .pipeline._opening import load_embedder_for

        recorded = store.open() if store.exists() else None
        embedder = load_embedder_for(
            recorded, args.embedding_model, dimensions=args.dimensions, **_load_options(args, "embedding")
        )
        ingestor = Ingestor(
            store,
            embedder,
            chunk_tokens=args.chunk_tokens,
            overlap=args.chunk_overlap,
            batch_size=args.batch_size,
            progress=False if args.no_progress else None,
            keep_missing=args.keep_missing,
            chunk_headers=args.chunk_headers,
        )
        report = ingestor.ingest(paths)  # each skipped file is logged once, as it happens
        stored = f"{store.count()} chunks" if store.exists() else "nothing stored, not created"
        print(f"{report.summary()}. Collection {args.collection!r}: {stored}.", file=out)
        if args.watch:
            return watch_after_ingest(args, store, embedder, paths, out)
    return 0


def _cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    from .pipeline._naming import printable  # control characters in a name would break the table

    with _open_store(args) as store:
        store.open()
        records = store.sources.all()
        if args.json:
            rows = [r.to_payload() for r in records]
            print(json.dumps({"collection": args.collection, "sources": rows}, indent=2), file=out)
            return 0
        for r in records:
            state = "" if r.complete else "  (incomplete: run ingest again)"
            print(f"{r.chunks:>7}  {r.ingested_at or '-':<25}  {printable(r.source)}{state}", file=out)
        print(f"{len(records)} sources, {sum(r.chunks for r in records)} chunks.", file=out)
    return 0


def _cmd_remove(args: argparse.Namespace, out: TextIO) -> int:
    from .pipeline._pruning import remove_sources, sources_under
    from .pipeline._sources import as_source

    roots = [as_source(p) for p in args.paths]
    with _open_store(args) as store:
        store.open()
        records = store.sources.all()
        for path, root in zip(args.paths, roots, strict=True):
            if not sources_under(records, [root]):
                raise InvalidOptionError(
                    f"Nothing ingested from {path} ({root}) in collection {args.collection!r}; "
                    "`qwen3-rag sources` lists what is there."
                )
        store.sources.create()
        files, chunks = remove_sources(store, sources_under(records, roots))
        left = store.count()
        print(
            f"Removed {files} files, {chunks} chunks. Collection {args.collection!r}: {left} chunks.",
            file=out,
        )
    return 0


def _retriever(args: argparse.Namespace, store: Any) -> Any:
    from .pipeline import TwoStageRetriever

    return TwoStageRetriever.from_collection(
        store,
        embedding_model=args.embedding_model,
        dimensions=args.dimensions,
        reranker=args.reranker_model,
        device=None,  # in the options below: a remote model takes no device
        dtype=None,
        embedding_options=_load_options(args, "embedding"),
        reranker_options=_load_options(args, "reranker"),
        top_k=args.top_k,
        top_n=args.top_n,
        hybrid=args.hybrid,
        instruction=_instruction(args),
        min_score=args.min_score,
    )


def _load_options(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """``load()`` options: a server's URL (the reranker defaults to the embedding's), else the
    hardware ones. ``--quantize`` goes along with a URL, so that it is refused, not ignored."""
    url = args.embedding_url if kind == "embedding" else (args.reranker_url or args.embedding_url)
    if not url:
        return hardware_options(args)
    return {"base_url": url, **({"quantize": args.quantize} if args.quantize else {})}


def _instruction(args: argparse.Namespace) -> str | None:
    """``--instruction``, or the ``--task`` preset; ``None``: the models' default."""
    if args.instruction is not None:
        return check_text(args.instruction, "--instruction")
    return TASK_INSTRUCTIONS.get(args.task or "")


def _print_results(question: str, results: Sequence[Any], out: TextIO) -> None:
    from ._chat import extractive_answer

    print(extractive_answer(question, results), file=out)


def _cmd_query(args: argparse.Namespace, out: TextIO) -> int:
    question = _question(args.question)
    filters = _filters(args.filter)
    with _open_store(args) as store:
        store.open()
        _check_sources_exist(store, filters)
        retriever = _retriever(args, store)
        results = retriever.retrieve(question, filters=filters)
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
    from ._chat import OpenAICompatibleChat, build_messages, cite

    interactive = stdin.isatty()
    if hasattr(stdin, "reconfigure"):  # bytes that are not UTF-8 become checkable, not a traceback
        stdin.reconfigure(errors="surrogateescape")
    refused = False
    filters = _filters(args.filter)
    chat = OpenAICompatibleChat(args.llm_url, args.llm_model) if args.llm_url else None  # URL checked now
    with _open_store(args) as store:
        store.open()
        _check_sources_exist(store, filters)
        retriever = _retriever(args, store)
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
            try:
                check_text(question, "The question")
            except InvalidOptionError as exc:  # refuse this line, in one line, and go on
                print(f"qwen3-rag: error: {exc}", file=sys.stderr, flush=True)
                refused = True
                continue
            results = retriever.retrieve(question, filters=filters)
            if chat is not None and results:
                print(chat.complete(build_messages(question, results)), file=out)
                print("Sources: " + "; ".join(dict.fromkeys(cite(r) for r in results)), file=out)
            else:
                _print_results(question, results, out)
            print(file=out, flush=True)
    return EXIT_ERROR if refused else 0


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
    _quiet_libraries(getattr(args, "no_progress", True))
    try:
        if args.command == "ingest":
            return _cmd_ingest(args, out)
        if args.command == "query":
            return _cmd_query(args, out)
        if args.command == "sources":
            return _cmd_sources(args, out)
        if args.command == "remove":
            return _cmd_remove(args, out)
        if args.command == "serve":
            return run_serve(args)
        if args.command == "eval":
            return run_eval(args, out)
        if args.command == "store":
            return run_store(args, out)
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
