"""The store a command's flags name (``--qdrant-path``, ``--qdrant-url``, ``--collection``)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from .._environment import QDRANT_URL
from .guards import new_store_folder, prepare_store_folder


def open_store(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The store; only ``ingest`` may create one (a reader's mistyped path is an error)."""
    from ..pipeline import QdrantStore

    if args.qdrant_url:
        return QdrantStore(args.collection, url=args.qdrant_url)
    if not create:
        _prepare_folder(args, create=False)
    return QdrantStore(args.collection, path=args.qdrant_path, create=create)


def _embedded_folder(args: argparse.Namespace) -> str | None:
    from ..pipeline._store import DEFAULT_QDRANT_PATH

    path = args.qdrant_path or (None if QDRANT_URL.get() else DEFAULT_QDRANT_PATH)
    return None if args.qdrant_url or path is None or path == ":memory:" else str(path)


def _prepare_folder(args: argparse.Namespace, *, create: bool) -> None:
    """A reader's embedded store folder, checked for writing (see .guards)."""
    folder = _embedded_folder(args)
    if folder is not None:
        prepare_store_folder(folder, create=create)


def ingest_folder(args: argparse.Namespace) -> Any:
    """Around ``ingest``: the folder checked for writing, and removed again if this run made it
    and stored nothing in it."""
    folder = _embedded_folder(args)
    return contextlib.nullcontext() if folder is None else new_store_folder(folder, args.collection)
