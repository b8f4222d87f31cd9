"""The flag groups several commands share: the store, the models, retrieval, the task."""

from __future__ import annotations

import argparse
from typing import Any

from .._environment import QWEN3_RAG_SERVER
from .._prompts import TASK_INSTRUCTIONS
from .._runtime import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL
from .filters import FILTER_HELP
from .hardware import add_hardware_arguments


def store_options(parser: argparse.ArgumentParser) -> None:
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


def model_options(parser: argparse.ArgumentParser, *, reranker: bool) -> None:
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
        default=QWEN3_RAG_SERVER.get(),
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


def retrieval_options(parser: argparse.ArgumentParser, *, listed: bool = True) -> None:
    """``listed=False``: accepted but unlisted and unused (``ingest``; see :func:`model_options`)."""
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


def no_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def common_options(parser: argparse.ArgumentParser) -> None:
    """What ``query`` and ``chat`` share: a store, both models, the retrieval settings."""
    store_options(parser)
    model_options(parser, reranker=True)
    retrieval_options(parser)
    no_progress_option(parser)


def instruction_options(parser: argparse.ArgumentParser) -> None:
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


def add_command(sub: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary (in ``qwen3-rag --help``) and its description."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description)
    return parser
