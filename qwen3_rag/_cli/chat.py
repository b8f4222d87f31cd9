"""``qwen3-rag chat``: question after question on stdin, answered from the reranked passages."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .._errors import ChatEndpointError, InvalidOptionError
from .filters import add_tenant_argument, parse_filters, resolve_sources
from .guards import check_text
from .options import add_command, common_options, instruction_options
from .process import EXIT_ERROR
from .retrieval import print_results, retriever
from .store_access import open_store


def add_parser(sub: Any) -> None:
    chat = add_command(
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
    common_options(chat)
    add_tenant_argument(chat)
    instruction_options(chat)


def run(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from .answers import OpenAICompatibleChat, cite

    interactive = stdin.isatty()
    if hasattr(stdin, "reconfigure"):  # bytes that are not UTF-8 become checkable, not a traceback
        stdin.reconfigure(errors="surrogateescape")
    refused = False
    wanted = parse_filters(args.filter, args.tenant)
    chat = OpenAICompatibleChat(args.llm_url, args.llm_model) if args.llm_url else None  # URL checked now
    with open_store(args) as store:
        recorded = store.open()
        wanted = resolve_sources(store, wanted)
        two_stage = retriever(args, store, recorded)
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
            results = two_stage.retrieve(question, filters=wanted)
            answer = _llm_answer(chat, question, results) if chat is not None and results else None
            if answer is not None:
                print(answer, file=out)
                print("Sources: " + "; ".join(dict.fromkeys(cite(r) for r in results)), file=out)
            else:
                print_results(question, results, out)
            print(file=out, flush=True)
    return EXIT_ERROR if refused else 0


def _llm_answer(chat: Any, question: str, results: Sequence[Any]) -> str | None:
    """The chat model's answer, or ``None`` after one line on stderr when the call failed: the
    session goes on (the passages are printed instead), as the next question may well succeed."""
    from .answers import build_messages

    try:
        answer: str = chat.complete(build_messages(question, results))
    except ChatEndpointError as exc:
        print(f"qwen3-rag: {' '.join(str(exc).split())} Showing the passages instead.", file=sys.stderr)
        return None
    return answer
