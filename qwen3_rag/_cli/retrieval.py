"""What ``query`` and ``chat`` share: the two-stage retriever, printed results (``--filter``: filters.py)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from .models import instruction, load_options


def retriever(args: argparse.Namespace, store: Any, recorded: Any) -> Any:
    """The two-stage retriever over ``store``, whose ``open()`` returned ``recorded`` (the
    collection is read once per command)."""
    from ..pipeline import TwoStageRetriever

    return TwoStageRetriever.from_collection(
        store,
        recorded=recorded,
        embedding_model=args.embedding_model,
        dimensions=args.dimensions,
        reranker=args.reranker_model,
        device=None,  # in the options below: a remote model takes no device
        dtype=None,
        embedding_options=load_options(args, "embedding"),
        reranker_options=load_options(args, "reranker"),
        top_k=args.top_k,
        top_n=args.top_n,
        hybrid=args.hybrid,
        instruction=instruction(args),
        min_score=args.min_score,
    )


def print_results(question: str, results: Sequence[Any], out: TextIO) -> None:
    from .answers import extractive_answer

    print(extractive_answer(question, results), file=out)
