"""The on-disk layout of an embedded (Qdrant Edge) store folder, its lock and its checks.

::

    <folder>/
      qwen3-rag-store.json          engine, engine version, layout version (what a later release reads first)
      .lock                         held while a process has the store open; names that process
      collections/<name>/
        collection.json             vector size and the collection metadata (model spec, chunking)
        shard/                      one Qdrant Edge shard (segments, WAL, payload indexes)

Edge has no collections: each collection (and each ``__sources`` registry) is its own shard.
Folders written by qdrant-client's local mode have a ``meta.json`` instead; they are told apart
by that (see :func:`layout_of`).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from .._errors import MissingDependencyError, StoreConnectionError, StoreDamagedError
from ._local_folder_checks import META_FILE as LOCAL_MODE_META

STORE_FILE = "qwen3-rag-store.json"
LOCK_FILE = ".lock"
COLLECTIONS = "collections"
COLLECTION_FILE = "collection.json"
SHARD = "shard"
LAYOUT = 1
ENGINE = "qdrant-edge"
PIP_EDGE = "pip install 'qwen3-rag[qdrant]'"

Layout = Literal["edge", "local", "empty"]


def edge_version() -> str:
    """The installed qdrant-edge-py version; a missing package names the extra to install."""
    try:
        import qdrant_edge  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"The embedded store needs Qdrant Edge (qdrant-edge-py): {PIP_EDGE}"
        ) from exc
    try:
        return version("qdrant-edge-py")
    except PackageNotFoundError:  # pragma: no cover - an unusual install
        return "unknown"


def layout_of(folder: Path) -> Layout:
    """What a folder holds: an Edge store, a qdrant-client local-mode store, or nothing yet."""
    if (folder / STORE_FILE).exists():
        return "edge"
    if (folder / LOCAL_MODE_META).exists():
        return "local"
    return "empty"


def damaged(folder: Path, what: str) -> StoreDamagedError:
    return StoreDamagedError(
        f"The embedded Qdrant store at {str(folder)!r} is damaged ({what}). Restore the folder from a "
        "backup or snapshot, or delete it and run `qwen3-rag ingest` again."
    )


def read_json(path: Path, folder: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (OSError, ValueError) as exc:
        raise damaged(
            folder, f"{path.relative_to(folder)} cannot be read: {type(exc).__name__}: {exc}"
        ) from exc


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` so a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    sync_dir(path.parent)


def sync_dir(folder: Path) -> None:
    if sys.platform == "win32":  # directories cannot be opened for fsync there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _minor(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(".")[:2])
    except ValueError:
        return ()


def check_store_file(folder: Path, installed: str) -> dict[str, Any]:
    """The folder's store record; refuse a layout or an Edge release newer than this install reads."""
    record = read_json(folder / STORE_FILE, folder)
    if record.get("engine") != ENGINE:
        raise damaged(folder, f"{STORE_FILE} names engine {record.get('engine')!r}, not {ENGINE!r}")
    if int(record.get("layout", 0)) > LAYOUT:
        raise StoreDamagedError(
            f"The embedded store at {str(folder)!r} was written by a newer qwen3-rag (store layout "
            f"{record.get('layout')}, this one reads {LAYOUT}). Upgrade: pip install -U 'qwen3-rag[qdrant]'."
        )
    written = str(record.get("engine_version", "unknown"))
    if _minor(written) and _minor(installed) and _minor(written) > _minor(installed):
        raise StoreDamagedError(
            f"The embedded store at {str(folder)!r} was written by Qdrant Edge {written}; the installed "
            f"qdrant-edge-py {installed} may not read it. Install that release: pip install "
            f"'qdrant-edge-py=={written}', or upgrade qwen3-rag."
        )
    return record


def version_hint(folder: Path, record: dict[str, Any], installed: str) -> str:
    """A sentence naming the Edge release that wrote the folder when it is not the installed one."""
    written = str(record.get("engine_version", "unknown"))
    if written in (installed, "unknown"):
        return ""
    return (
        f" It was written by Qdrant Edge {written} and qdrant-edge-py {installed} is installed: "
        f"install that release (pip install 'qdrant-edge-py=={written}') to read it."
    )


class FolderLock:
    """An exclusive lock on a store folder for as long as one process has it open.

    Edge itself refuses a second opener of a shard with a bare ``WouldBlock``; this lock fails
    first, at open time, naming the process that holds the folder and what to do.
    """

    def __init__(self, folder: Path) -> None:
        path = folder / LOCK_FILE
        try:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except PermissionError as exc:
            raise unwritable(folder, exc) from exc
        try:
            _lock(handle)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreConnectionError(
                f"The embedded store at {str(folder)!r} is in use by {holder}. An embedded store "
                "admits one process at a time: stop that process (or wait for it to finish), or run "
                "a Qdrant server for several processes (`qwen3-rag store push --to-url URL`, then "
                "pass qdrant_url=)."
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} ({' '.join(sys.argv)[:200] or sys.executable})")
        handle.flush()
        self._handle: Any = handle

    def release(self) -> None:
        if self._handle is not None:
            try:
                self._handle.seek(0)
                self._handle.truncate()
                _unlock(self._handle)
            finally:
                self._handle.close()
                self._handle = None


def unwritable(folder: Path, exc: OSError) -> StoreConnectionError:
    return StoreConnectionError(
        f"Cannot write to the embedded store folder {str(folder)!r} ({type(exc).__name__}: "
        f"{exc.strerror or exc}). The embedded store writes even when it only reads (its write-ahead "
        "log): give your user write access to the folder, or pass another qdrant_path=."
    )


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle: Any) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle: Any) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(handle: Any) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: Any) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
