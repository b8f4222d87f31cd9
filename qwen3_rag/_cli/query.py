"""``qwen3-rag query``: one question, the top reranked passages."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from .._errors import InvalidOptionError
from .filters import add_tenant_argument, parse_filters, resolve_sources
from .guards import check_text
from .options import add_command, common_options, instruction_options
from .retrieval import print_results, retriever
from .store_access import open_store


def add_parser(sub: Any) -> None:
    query = add_command(
        sub,
        "query",
        "answer one question with the top reranked passages",
        "Fetch --top-k candidates from the collection (dense, or --hybrid) and rerank them with the "
        "Qwen3 reranker to the --top-n best passages.",
    )
    query.add_argument("question")
    query.add_argument("--json", action="store_true", help="print the results as JSON")
    common_options(query)
    add_tenant_argument(query)
    instruction_options(query)


def _question(text: str) -> str:
    check_text(text, "The question")
    if not text.strip():
        raise InvalidOptionError('The question is empty; ask something, e.g. qwen3-rag query "What is X?".')
    return text


def run(args: argparse.Namespace, out: TextIO) -> int:
    question = _question(args.question)
    wanted = parse_filters(args.filter, args.tenant)
    with open_store(args) as store:
        recorded = store.open()
        wanted = resolve_sources(store, wanted)
        results = retriever(args, store, recorded).retrieve(question, filters=wanted)
        if args.json:
            payload = {
                "query": args.question,
                "collection": args.collection,
                "hybrid": args.hybrid,
                "results": [r.to_dict() for r in results],
            }
            print(json.dumps(payload, ensure_ascii=False, indent=2), file=out)
        else:
            print_results(args.question, results, out)
    return 0
