"""Embedded store folders built once and copied for each test that needs one.

Creating a Qdrant Edge collection costs a few hundred milliseconds (shards, their thread pools,
one update per payload index); copying the closed folder it left costs a few. A test that gets a
copy gets its own store, written by the real code path, with nothing shared with other tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def copy_sparse(source: str, target: str) -> None:
    """Copy only the data regions of ``source``: an Edge folder of ~300 KB on disk has files of
    ~280 MB apparent size (preallocated, mostly holes), which a plain copy would write out whole."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        size, position = os.fstat(src.fileno()).st_size, 0
        while position < size:
            try:
                start = os.lseek(src.fileno(), position, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            src.seek(start)
            dst.seek(start)
            dst.write(src.read(end - start))
            position = end
        dst.truncate(size)


class StoreFolders:
    """``copy(key, target)``: a fresh copy of the folder ``build(key, folder)`` left, built on the
    first request for ``key`` (the store must be closed when ``build`` returns)."""

    def __init__(self, root: Path, build: Callable[[str, Path], None]) -> None:
        self._root, self._build = root, build
        self._built: dict[str, Path] = {}

    def copy(self, key: str, target: Path) -> Path:
        template = self._built.get(key)
        if template is None:
            template = self._root / key
            self._build(key, template)
            self._built[key] = template
        shutil.copytree(template, target, copy_function=copy_sparse)
        return target
