"""``qwen3-rag ingest``: chunk, embed and store files and folders."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, TextIO

from .._errors import InvalidOptionError
from .._wording import plural
from .filters import add_tenant_argument
from .models import load_options
from .options import add_command, model_options, no_progress_option, retrieval_options, store_options
from .store_access import ingest_folder, open_store
from .watch import add_watch_arguments, check_watch_available, watch_after_ingest


def add_parser(sub: Any) -> None:
    ingest = add_command(
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
    store_options(ingest)
    add_tenant_argument(ingest)
    model_options(ingest, reranker=False)
    retrieval_options(ingest, listed=False)
    no_progress_option(ingest)


def _existing_paths(paths: Sequence[str]) -> list[str]:
    missing = [p for p in paths if not os.path.exists(os.path.expanduser(p))]
    if missing:
        raise InvalidOptionError(
            f"No such file or folder: {', '.join(missing)}. To delete what was ingested from a path that "
            "is gone, use `qwen3-rag remove PATH`."
        )
    return list(paths)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline import Ingestor

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
    with ingest_folder(args), open_store(args, create=True) as store:
        from ..pipeline._opening import load_embedder_for

        recorded = store.open() if store.exists() else None
        embedder = load_embedder_for(
            recorded,
            args.embedding_model or (None if recorded else getattr(args, "served_embedding_model", None)),
            dimensions=args.dimensions,
            options=load_options(args, "embedding"),
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
