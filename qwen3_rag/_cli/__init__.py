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

One module per command (``add_parser`` and ``run``); the flag groups they share are in
:mod:`.options`. Nothing heavy (torch, transformers, the store engines) is imported before a
command needs it: ``qwen3-rag --help``, ``sources`` and ``remove`` start quickly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from .. import __version__
from .._errors import Qwen3RagError
from . import chat, ingest, query, remove, sources
from .errors import cli_message
from .eval import add_eval_parser, run_eval
from .models import use_server
from .process import EXIT_BROKEN_PIPE, EXIT_ERROR, EXIT_INTERRUPTED, quiet_libraries
from .serve import add_serve_parser, run_serve
from .store import add_store_parser, run_store


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qwen3-rag",
        description="Two-stage RAG retrieval with Qwen3-Embedding and Qwen3-Reranker on Qdrant.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    ingest.add_parser(sub)
    query.add_parser(sub)
    chat.add_parser(sub)
    sources.add_parser(sub)
    remove.add_parser(sub)
    add_serve_parser(sub)
    add_eval_parser(sub)
    add_store_parser(sub)
    return parser


def _run_command(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if args.command in {"ingest", "query", "chat"}:
        use_server(args)
    if args.command == "ingest":
        return ingest.run(args, out)
    if args.command == "query":
        return query.run(args, out)
    if args.command == "sources":
        return sources.run(args, out)
    if args.command == "remove":
        return remove.run(args, out)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "eval":
        return run_eval(args, out)
    if args.command == "store":
        return run_store(args, out)
    return chat.run(args, out, stdin)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    quiet_libraries(getattr(args, "no_progress", True))
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
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`qwen3-rag sources --json | head`): stop quietly, as `cat` does.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
