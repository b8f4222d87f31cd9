"""``qwen3-rag ingest --watch``: after the first pass, mirror the folders as files change.

The command-line side only (options, output); the mirroring is :mod:`qwen3_rag.pipeline._watch`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO


def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        action="store_true",
        help="after ingesting, keep the collection mirroring the paths as files are created, edited, "
        "renamed and deleted (one line per batch of changes; Ctrl-C to stop). Needs qwen3-rag[watch]",
    )
    parser.add_argument(
        "--watch-debounce",
        type=int,
        default=None,
        metavar="MS",
        help="with --watch: apply changes once the files have been quiet this long (default: 1000)",
    )


def check_watch_available(args: argparse.Namespace) -> None:
    """Fail before the first pass, not after it, when watchfiles is missing."""
    if not getattr(args, "watch", False):
        return
    from ._errors import InvalidOptionError, MissingDependencyError

    if args.watch_debounce is not None and args.watch_debounce < 1:
        raise InvalidOptionError(f"--watch-debounce wants milliseconds >= 1, got {args.watch_debounce}.")
    try:
        import watchfiles  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("--watch needs watchfiles: pip install 'qwen3-rag[watch]'") from exc


def watch_after_ingest(
    args: argparse.Namespace, store: Any, embedder: Any, paths: Sequence[str], out: TextIO
) -> int:
    from .pipeline import Ingestor
    from .pipeline._watch import DEFAULT_DEBOUNCE_MS, ChangeBatch, watch_and_mirror

    # Sizes and chunk headers follow what the first pass just recorded; removals come from events.
    ingestor = Ingestor(
        store, embedder, batch_size=args.batch_size, progress=False, keep_missing=True, tenant=args.tenant
    )

    def report(batch: ChangeBatch) -> None:
        print(
            f"{batch.summary()}. Collection {args.collection!r}: {store.count()} chunks.",
            file=out,
            flush=True,
        )

    print(f"Watching {', '.join(paths)} for changes (Ctrl-C to stop).", file=out, flush=True)
    debounce = args.watch_debounce or DEFAULT_DEBOUNCE_MS
    watch_and_mirror(ingestor, paths, on_batch=report, debounce_ms=debounce)
    print("Stopped watching.", file=out, flush=True)
    return 0
