"""``qwen3-rag serve``: the argument parser and the function that runs the server.

    qwen3-rag serve --embedding-model Qwen/Qwen3-Embedding-0.6B --reranker-model Qwen/Qwen3-Reranker-0.6B

The port opens at once (``/health`` answers 503 until the models are loaded); SIGTERM or Ctrl+C
drains: requests in flight finish, new ones get 503, then the process exits 0.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._environment import QWEN3_RAG_API_KEY
from .._errors import Qwen3RagError
from .._runtime.options import BatchingOptions
from ..server._config import DEFAULT_MAX_INPUTS, DEFAULT_MAX_REQUEST_BYTES
from ..server._limits import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_KEEP_ALIVE_S,
    DEFAULT_MAX_CONNECTIONS,
)
from .hardware import add_hardware_arguments, hardware_options
from .process import EXIT_ERROR, EXIT_USAGE, quiet_libraries

_BATCHING = BatchingOptions()  # the batcher's defaults, declared once


def add_serve_parser(subparsers: Any) -> None:
    """Register ``serve`` on an ``argparse`` sub-parser collection (``parser.add_subparsers()``)."""
    parser = subparsers.add_parser(
        "serve",
        help="serve the models over HTTP (OpenAI /v1/embeddings, /v1/rerank)",
        description="Serve Qwen3-Embedding and/or Qwen3-Reranker over HTTP: OpenAI-compatible "
        "/v1/embeddings, Cohere/Jina-style /v1/rerank, /health, /v1/models, /metrics. Needs "
        "pip install 'qwen3-rag[serve]'.",
    )
    models = parser.add_argument_group("models (give one or both)")
    models.add_argument("--embedding-model", help="Hub id or local folder of a Qwen3-Embedding model")
    models.add_argument("--reranker-model", help="Hub id or local folder of a Qwen3-Reranker model")
    add_hardware_arguments(models)
    models.add_argument(
        "--dimensions",
        type=int,
        help="Matryoshka embedding size served by default; requests may ask for less (default: full size)",
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine)")
    net.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    net.add_argument(
        "--api-key",
        default=None,
        help=f"require 'Authorization: Bearer KEY' on /v1/* (default: ${QWEN3_RAG_API_KEY.name}; "
        "prefer the variable: arguments are visible to other users in the process list)",
    )
    limits = parser.add_argument_group("limits and batching")
    _numeric(limits, "--max-request-bytes", DEFAULT_MAX_REQUEST_BYTES, "largest request body, else 413")
    _numeric(limits, "--max-inputs", DEFAULT_MAX_INPUTS, "most inputs or documents per request, else 413")
    _numeric(
        limits,
        "--max-queue-items",
        _BATCHING.max_queue_items,
        "texts waiting in a model's queue before requests get 429",
    )
    limits.add_argument(
        "--batch-tokens", type=int, help="padded tokens per forward pass (default: by device)"
    )
    _numeric(limits, "--max-wait-ms", _BATCHING.max_wait_ms, "how long a batch waits for more requests")
    slow = parser.add_argument_group("slow and idle clients (see docs/serving.md)")
    _numeric(
        slow,
        "--header-timeout",
        DEFAULT_HEADER_TIMEOUT_S,
        "seconds a client gets to send a request's headers, else 408 and closed",
    )
    _numeric(
        slow,
        "--body-timeout",
        DEFAULT_BODY_TIMEOUT_S,
        "seconds a client gets to send a request's body, else closed",
    )
    _numeric(
        slow,
        "--keep-alive-timeout",
        DEFAULT_KEEP_ALIVE_S,
        "seconds an idle connection is kept open between requests",
    )
    _numeric(
        slow,
        "--max-connections",
        DEFAULT_MAX_CONNECTIONS,
        "open connections at most; past it a new one gets 503",
    )
    _numeric(
        limits,
        "--graceful-timeout",
        30.0,
        "seconds requests in flight get to finish after SIGTERM, then 503",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _numeric(group: Any, flag: str, default: float, what: str) -> None:
    """A number option of ``default``'s type whose help ends with the default (floats as ``%g``)."""
    shown = f"{default:g}" if isinstance(default, float) else default
    group.add_argument(flag, type=type(default), default=default, help=f"{what} (default: {shown})")


def _api_key(args: argparse.Namespace) -> str | None:
    if args.api_key is not None:
        return str(args.api_key) or None
    return QWEN3_RAG_API_KEY.get()


def _loader(args: argparse.Namespace) -> Any:
    from .._runtime import Qwen3Embedder, Qwen3Reranker

    batching = {
        "batch_tokens": args.batch_tokens,
        "max_wait_ms": args.max_wait_ms,
        "max_queue_items": args.max_queue_items,
    }

    def load() -> tuple[Any, Any]:
        embedder = reranker = None
        if args.embedding_model:
            embedder = Qwen3Embedder.load(
                args.embedding_model, dimensions=args.dimensions, **hardware_options(args), **batching
            )
        if args.reranker_model:
            reranker = Qwen3Reranker.load(args.reranker_model, **hardware_options(args), **batching)
        return embedder, reranker

    return load


def _error(message: str) -> None:
    print(f"qwen3-rag serve: error: {' '.join(message.split())}", file=sys.stderr)


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT; 0 after a clean drain, 1 if the models fail to load."""
    from ..server._dependencies import require_serve_dependencies

    if not args.embedding_model and not args.reranker_model:
        _error("give --embedding-model, --reranker-model, or both.")
        return EXIT_USAGE
    if args.dimensions is not None and not args.embedding_model:
        _error("--dimensions applies to the embedding model; give --embedding-model too.")
        return EXIT_USAGE
    try:
        require_serve_dependencies()
        from .serve_uvicorn import serve

        quiet_libraries(args.no_progress, log_format="%(levelname)s:  %(message)s", info="qwen3_rag.server")
        return serve(args, _loader(args), _api_key(args))
    except Qwen3RagError as exc:
        _error(str(exc))
        return EXIT_ERROR
