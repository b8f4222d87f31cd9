"""Checks on an embedded Qdrant folder before qdrant-client opens it.

qdrant-client's embedded mode fails on damaged files with raw tracebacks (a truncated
``meta.json`` or ``storage.sqlite``), and silently treats an emptied ``storage.sqlite`` as an empty
collection, so a user would get "no passages" for data that is gone. These checks turn every such
case into one :class:`StoreDamagedError` naming the folder and the way out.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._errors import CollectionNotFoundError, StoreDamagedError

META_FILE = "meta.json"


def damaged(folder: Path, what: str) -> StoreDamagedError:
    return StoreDamagedError(
        f"The embedded Qdrant store at {str(folder)!r} is damaged ({what}). Restore the folder from a "
        "backup or snapshot, or delete it and run `qwen3-rag ingest` again."
    )


def check_folder(folder: Path) -> None:
    """Raise :class:`StoreDamagedError` if ``folder`` holds an embedded store whose files are damaged."""
    meta = folder / META_FILE
    if not meta.exists():
        return  # a new, empty store
    try:
        collections = json.loads(meta.read_text(encoding="utf-8"))["collections"]
        names = list(collections)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise damaged(folder, f"{META_FILE} cannot be read: {type(exc).__name__}: {exc}") from exc
    for name in names:
        storage = folder / "collection" / name / "storage.sqlite"
        if not storage.is_file():
            raise damaged(folder, f"collection {name!r} has no storage.sqlite")
        if storage.stat().st_size == 0:
            raise damaged(folder, f"collection {name!r}: storage.sqlite is empty")


def require_folder(folder: Path) -> None:
    """Refuse to open a store that does not exist (opening would create it)."""
    if not (folder / META_FILE).exists():
        raise no_store(folder)


def no_store(folder: Path) -> CollectionNotFoundError:
    return CollectionNotFoundError(
        f"There is no Qdrant store at {str(folder)!r}: nothing has been ingested there. Run "
        f"`qwen3-rag ingest PATH --qdrant-path {folder}` first, or point qdrant_path= at an "
        "existing store."
    )
