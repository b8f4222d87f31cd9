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

from . import __version__
from ._cli_errors import cli_message
from ._cli_filters import FILTER_HELP, add_tenant_argument, parse_filters, resolve_sources
from ._cli_guards import check_text, new_store_folder, prepare_store_folder
from ._cli_hardware import add_hardware_arguments, hardware_options
from ._cli_sources import record_note, scoped_records, sources_named
from ._cli_store import add_store_parser, run_store
from ._cli_watch import add_watch_arguments, check_watch_available, watch_after_ingest
from ._errors import ChatEndpointError, InvalidOptionError, Qwen3RagError
from ._prompts import TASK_INSTRUCTIONS
from ._runtime import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from ._wording import plural
from .evaluation._command import add_eval_parser, run_eval
from .server._command import add_serve_parser, run_serve

EXIT_ERROR = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by it


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


def _model_options(parser: argparse.ArgumentParser, *, reranker: bool) -> None:
    """The embedding model's options, and the reranker's for the commands that rerank (the others
    take them too, unlisted and unused, so one set of flags can serve every command)."""
    models = parser.add_argument_group("models")
    models.add_argument(
        "--embedding-model",
        help=f"Hub id or local folder (default: the collection's own model, else {DEFAULT_EMBEDDING_MODEL})",
    )
    models.add_argument(
        "--server",
        metavar="URL",
        default=os.environ.get("QWEN3_RAG_SERVER") or None,
        help="a running `qwen3-rag serve` for both models, e.g. http://host:8000/v1: no model loads "
        "here and no Hub access (default: $QWEN3_RAG_SERVER); a model's own *-url option overrides it",
    )
    models.add_argument(
        "--reranker-model",
        default=None,
        help=f"Hub id or local folder (default: the one --server serves, else {DEFAULT_RERANKER_MODEL})"
        if reranker
        else argparse.SUPPRESS,
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
        "--reranker-url",
        metavar="URL",
        help="run the reranker on this server (default: --embedding-url's)"
        if reranker
        else argparse.SUPPRESS,
    )
    add_hardware_arguments(models)


def _retrieval_options(parser: argparse.ArgumentParser, *, listed: bool = True) -> None:
    """``listed=False``: accepted but unlisted and unused (``ingest``; see :func:`_model_options`)."""
    search = parser.add_argument_group("retrieval")

    def shown(text: str) -> str:
        return text if listed else argparse.SUPPRESS

    search.add_argument("--top-k", type=int, default=50, help=shown("candidates from Qdrant (default: 50)"))
    search.add_argument(
        "--top-n", type=int, default=5, help=shown("results kept after reranking (default: 5)")
    )
    search.add_argument(
        "--hybrid",
        action="store_true",
        help=shown("fuse dense and sparse (token) matches by reciprocal rank fusion"),
    )
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=shown(FILTER_HELP),
    )


def _no_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _common(parser: argparse.ArgumentParser) -> None:
    """What ``query`` and ``chat`` share: a store, both models, the retrieval settings."""
    _store_options(parser)
    _model_options(parser, reranker=True)
    _retrieval_options(parser)
    _no_progress_option(parser)


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


def _command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary (in ``qwen3-rag --help``) and its description."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qwen3-rag",
        description="Two-stage RAG retrieval with Qwen3-Embedding and Qwen3-Reranker on Qdrant.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = _command(
        sub,
        "ingest",
        "chunk, embed and store files or folders",
        "Read files and folders (recursively), cut them into token chunks, embed them and store them "
        "in a Qdrant collection. Running it again re-embeds only what changed and removes the chunks "
        "of files that are gone from the given folders.",
    )
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
    _store_options(ingest)
    add_tenant_argument(ingest)
    _model_options(ingest, reranker=False)
    _retrieval_options(ingest, listed=False)
    _no_progress_option(ingest)

    query = _command(
        sub,
        "query",
        "answer one question with the top reranked passages",
        "Fetch --top-k candidates from the collection (dense, or --hybrid) and rerank them with the "
        "Qwen3 reranker to the --top-n best passages.",
    )
    query.add_argument("question")
    query.add_argument("--json", action="store_true", help="print the results as JSON")
    _common(query)
    add_tenant_argument(query)
    _instruction_options(query)

    chat = _command(
        sub,
        "chat",
        "ask questions interactively (one per line on stdin)",
        "Ask question after question (one per line on stdin). Each answer quotes the reranked "
        "passages, or, with --llm-url, is written by an OpenAI-compatible chat model from them.",
    )
    chat.add_argument(
        "--llm-url", help="OpenAI-compatible endpoint for answers, e.g. http://localhost:11434/v1"
    )
    chat.add_argument("--llm-model", default="qwen3", help="model name at --llm-url (default: qwen3)")
    _common(chat)
    add_tenant_argument(chat)
    _instruction_options(chat)

    sources = _command(
        sub,
        "sources",
        "list the ingested files with their chunk counts",
        "List the files (sources) of a collection: chunk count, when last written, and whether an "
        "interrupted run left one incomplete.",
    )
    sources.add_argument("--json", action="store_true", help="print the sources as JSON")
    _store_options(sources)
    add_tenant_argument(sources)

    remove = _command(
        sub,
        "remove",
        "delete files (or everything under folders) from a collection",
        "Delete the chunks of ingested files, or of everything ingested under folders, from a "
        "collection. The files themselves are not touched and need not exist any more.",
    )
    remove.add_argument(
        "paths", nargs="+", metavar="PATH", help="ingested files or folders (they need not exist any more)"
    )
    _store_options(remove)
    add_tenant_argument(remove)

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
    if (
        args.chunk_tokens is not None
        and args.chunk_overlap is not None
        and args.chunk_overlap >= args.chunk_tokens
    ):
        raise InvalidOptionError(
            f"--chunk-overlap ({args.chunk_overlap}) must be smaller than --chunk-tokens "
            f"({args.chunk_tokens})."
        )
    check_watch_available(args)
    with _ingest_folder(args), _open_store(args, create=True) as store:
        from .pipeline._opening import load_embedder_for

        recorded = store.open() if store.exists() else None
        embedder = load_embedder_for(
            recorded,
            args.embedding_model or (None if recorded else getattr(args, "served_embedding_model", None)),
            dimensions=args.dimensions,
            **_load_options(args, "embedding"),
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
            tenant=args.tenant,
        )
        report = ingestor.ingest(paths)  # each skipped file is logged once, as it happens
        stored = plural(store.count(), "chunk") if store.exists() else "nothing stored, not created"
        print(f"{report.summary()}. Collection {args.collection!r}: {stored}.", file=out)
        if args.watch:
            return watch_after_ingest(args, store, embedder, paths, out)
    return 0


def _cmd_sources(args: argparse.Namespace, out: TextIO) -> int:
    from .pipeline._naming import printable  # control characters in a name would break the table

    with _open_store(args) as store:
        store.open()
        records = scoped_records(store, args.tenant)
        if args.json:
            rows = [r.to_payload() for r in records]
            print(json.dumps({"collection": args.collection, "sources": rows}, indent=2), file=out)
            return 0
        for r in records:
            state = "" if r.complete else "  (incomplete: run ingest again)"
            print(
                f"{r.chunks:>7}  {r.ingested_at or '-':<25}  {printable(r.source)}{record_note(r)}{state}",
                file=out,
            )
        total = sum(r.chunks for r in records)
        print(f"{plural(len(records), 'source')}, {plural(total, 'chunk')}.", file=out)
    return 0


def _cmd_remove(args: argparse.Namespace, out: TextIO) -> int:
    from .pipeline._pruning import remove_sources

    with _open_store(args) as store:
        store.open()
        records = scoped_records(store, None)
        doomed = sources_named(records, args.paths, store.collection, args.tenant)
        store.sources.create()
        removed, chunks = remove_sources(store, doomed)
        documents = sum(1 for r in doomed if r.kind == "document")
        left = store.count()
        what = [plural(removed - documents, "file")] + ([plural(documents, "document")] if documents else [])
        print(
            f"Removed {', '.join(what)}, {plural(chunks, 'chunk')}. "
            f"Collection {args.collection!r}: {plural(left, 'chunk')}.",
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
    filters = parse_filters(args.filter, args.tenant)
    with _open_store(args) as store:
        store.open()
        filters = resolve_sources(store, filters)
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
    from ._chat import OpenAICompatibleChat, cite

    interactive = stdin.isatty()
    if hasattr(stdin, "reconfigure"):  # bytes that are not UTF-8 become checkable, not a traceback
        stdin.reconfigure(errors="surrogateescape")
    refused = False
    filters = parse_filters(args.filter, args.tenant)
    chat = OpenAICompatibleChat(args.llm_url, args.llm_model) if args.llm_url else None  # URL checked now
    with _open_store(args) as store:
        store.open()
        filters = resolve_sources(store, filters)
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
            answer = _llm_answer(chat, question, results) if chat is not None and results else None
            if answer is not None:
                print(answer, file=out)
                print("Sources: " + "; ".join(dict.fromkeys(cite(r) for r in results)), file=out)
            else:
                _print_results(question, results, out)
            print(file=out, flush=True)
    return EXIT_ERROR if refused else 0


def _llm_answer(chat: Any, question: str, results: Sequence[Any]) -> str | None:
    """The chat model's answer, or ``None`` after one line on stderr when the call failed: the
    session goes on (the passages are printed instead), as the next question may well succeed."""
    from ._chat import build_messages

    try:
        answer: str = chat.complete(build_messages(question, results))
    except ChatEndpointError as exc:
        print(f"qwen3-rag: {' '.join(str(exc).split())} Showing the passages instead.", file=sys.stderr)
        return None
    return answer


def _quiet_libraries(no_progress: bool) -> None:
    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stderr)
    if no_progress or not sys.stderr.isatty():
        # Read by huggingface-hub and by transformers when they are imported (only commands that
        # load a model import them: setting it here costs nothing).
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def _use_server(args: argparse.Namespace) -> None:
    """``--server``: both models' URLs (unless given one by one), and the reranker it serves when
    none is named; the embedding model stays the collection's own, else the one it serves."""
    if getattr(args, "server", None) is None:
        if getattr(args, "reranker_model", "") is None:
            args.reranker_model = DEFAULT_RERANKER_MODEL
        return
    from ._runtime.remote import served_models

    args.embedding_url = args.embedding_url or args.server
    args.reranker_url = args.reranker_url or args.server
    served = served_models(args.server)
    if args.reranker_model is None:
        args.reranker_model = served.get("reranker", DEFAULT_RERANKER_MODEL)
    args.served_embedding_model = served.get("embedding")


def _run_command(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if args.command in {"ingest", "query", "chat"}:
        _use_server(args)
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
    return _cmd_chat(args, out, stdin)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    _quiet_libraries(getattr(args, "no_progress", True))
    try:
        code = _run_command(args, out, stdin or sys.stdin)
        out.flush()  # here, so that a reader gone away is caught below, not at interpreter exit
        return code
    except Qwen3RagError as exc:
        # One line: the messages already say what was wrong and how to fix it.
        print(f"qwen3-rag: error: {cli_message(exc, args)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qwen3-rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`qwen3-rag sources --json | head`): stop quietly, as `cat` does.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
