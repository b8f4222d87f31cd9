"""The models a command's flags name: local loads, a server's URL, ``--server``."""

from __future__ import annotations

import argparse
from typing import Any

from .._prompts import TASK_INSTRUCTIONS
from .._runtime import DEFAULT_RERANKER_MODEL
from .guards import check_text
from .hardware import hardware_options


def load_options(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """``load()`` options: a server's URL (the reranker defaults to the embedding's), else the
    hardware ones. ``--quantize`` goes along with a URL, so that it is refused, not ignored."""
    url = args.embedding_url if kind == "embedding" else (args.reranker_url or args.embedding_url)
    if not url:
        return hardware_options(args)
    return {"base_url": url, **({"quantize": args.quantize} if args.quantize else {})}


def instruction(args: argparse.Namespace) -> str | None:
    """``--instruction``, or the ``--task`` preset; ``None``: the models' default."""
    if args.instruction is not None:
        return check_text(args.instruction, "--instruction")
    return TASK_INSTRUCTIONS.get(args.task or "")


def use_server(args: argparse.Namespace) -> None:
    """``--server``: both models' URLs (unless given one by one), and the reranker it serves when
    none is named; the embedding model stays the collection's own, else the one it serves."""
    if getattr(args, "server", None) is None:
        if getattr(args, "reranker_model", "") is None:
            args.reranker_model = DEFAULT_RERANKER_MODEL
        return
    from .._runtime.remote import served_models

    args.embedding_url = args.embedding_url or args.server
    args.reranker_url = args.reranker_url or args.server
    served = served_models(args.server)
    if args.reranker_model is None:
        args.reranker_model = served.get("reranker", DEFAULT_RERANKER_MODEL)
    args.served_embedding_model = served.get("embedding")
