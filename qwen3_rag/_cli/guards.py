"""Checks the CLI makes before any store opens or model loads: text that is not UTF-8, a store
folder that cannot be written, names that would break a table.

Kept apart from the store engines on purpose: whatever engine holds an embedded folder, it needs
to write there (even readers lock the folder), and a folder it cannot write is a permission
problem to name, not another program holding a lock.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .._errors import CollectionNotFoundError, InvalidOptionError, StoreConnectionError


def check_text(value: str, what: str) -> str:
    """``value`` itself, or :class:`InvalidOptionError` if it holds bytes that are not UTF-8.

    Python hands such bytes (in arguments, or on stdin read with ``surrogateescape``) over as lone
    surrogates; no tokenizer can take them.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])  # surrogateescape puts byte b at U+DC00 + b
        shown = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise InvalidOptionError(
            f"{what} is not valid UTF-8 text ({shown} at character {exc.start}); pass UTF-8 text "
            "(check the terminal's or the input file's encoding)."
        ) from None
    return value


def prepare_store_folder(path: str | os.PathLike[str], *, create: bool) -> list[Path]:
    """Check that the embedded store folder ``path`` can be written; the folders made for it.

    A writer (``create=True``) makes the folder if needed and writes a probe file in it; a reader
    probes an existing folder only (a missing one is reported by the store itself). The returned
    folders (outermost first) did not exist before.
    """
    folder = Path(path).expanduser()
    made: list[Path] = []
    try:
        if not folder.exists():
            if not create:
                return []
            made = [p for p in reversed([folder, *folder.parents]) if not p.exists()]
            folder.mkdir(parents=True)
        if folder.is_dir():
            handle, probe = tempfile.mkstemp(prefix=".qwen3-rag-write-check-", dir=folder)
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        if made:
            shutil.rmtree(made[0], ignore_errors=True)
        reason = exc.strerror or type(exc).__name__
        raise StoreConnectionError(
            f"The store folder {str(folder)!r} cannot be written ({reason}): an embedded store needs "
            "write access, even to read it. Fix its permissions, or pass another --qdrant-path "
            "(or a Qdrant server with --qdrant-url)."
        ) from exc
    return made


@contextmanager
def new_store_folder(path: str | os.PathLike[str], collection: str) -> Iterator[None]:
    """For a writer: check the folder (:func:`prepare_store_folder`); afterwards, if this run made
    it and no collection was stored in it (nothing to store, or the first batch failed), take it
    away again, so a failed first run leaves nothing behind."""
    made = prepare_store_folder(path, create=True)
    try:
        yield
    finally:
        if made and not _holds(path, collection):
            shutil.rmtree(made[0], ignore_errors=True)


def _holds(path: str | os.PathLike[str], collection: str) -> bool:
    """Whether the store at ``path`` holds ``collection``; in doubt, ``True`` (keep the folder)."""
    from ..pipeline._store import QdrantStore

    try:
        with QdrantStore(collection, path=path, create=False) as store:
            return bool(store.exists())
    except CollectionNotFoundError:  # no store at all was written there
        return False
    except Exception:
        return True
