"""``qwen3-rag store upgrade``: a qdrant-client local-mode folder becomes a Qdrant Edge store.

Points are copied with their vectors (nothing is re-embedded). Crash safety: the two layouts do
not share a file name (local mode: ``meta.json``, ``collection/``; Edge: ``qwen3-rag-store.json``,
``collections/``), so the Edge store is built inside the same folder, under ``.upgrade/``, while
the local-mode store stays locked and untouched. Writing ``qwen3-rag-store.json`` is the switch:
before it the folder opens in local mode, after it as Edge, and a kill at any point leaves one
of the two, complete. The local-mode files are removed only after the switch.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import CollectionNotFoundError, InvalidOptionError
from . import _edge_folder as layout
from ._copying import copy_points
from ._edge_folder import layout_of
from ._engine_client import ClientEngine
from ._engine_edge import EdgeEngine
from ._layout import DENSE_VECTOR
from ._local_folder_checks import META_FILE
from ._sources import REGISTRY_SUFFIX

WORK = ".upgrade"
Say = Callable[[str], None]


@dataclass
class UpgradeReport:
    folder: Path
    collections: dict[str, int] = field(default_factory=dict)
    """``{collection: points copied}``, registries included."""
    seconds: float = 0.0

    def summary(self) -> str:
        parts = ", ".join(f"{name} ({n} points)" for name, n in self.collections.items())
        done = parts or "no collections"
        return f"upgraded {str(self.folder)!r} to Qdrant Edge in {self.seconds:.1f} s: {done}"


def upgrade_folder(folder: Path, *, say: Say | None = None) -> UpgradeReport:
    """Convert the local-mode store in ``folder`` (every collection in it) to Qdrant Edge."""
    say = say or (lambda _line: None)
    folder = folder.expanduser()
    started = time.perf_counter()
    found = layout_of(folder)
    if found == "edge":
        _remove_local_mode_files(folder)  # a run killed after the switch left them behind
        raise InvalidOptionError(f"{str(folder)!r} is already a Qdrant Edge store: nothing to upgrade.")
    if found == "empty":
        raise CollectionNotFoundError(f"There is no Qdrant store at {str(folder)!r} to upgrade.")
    report = UpgradeReport(folder)
    source = ClientEngine.for_local_folder(folder)  # holds the folder's lock while we copy
    try:
        names = _collections(source)
        work = folder / WORK
        shutil.rmtree(work, ignore_errors=True)  # a killed earlier attempt: start over
        shutil.rmtree(folder / layout.COLLECTIONS, ignore_errors=True)  # moved in, never switched to
        target = EdgeEngine(work)
        try:
            for name in names:
                size = source.dense_size(name)
                target.create(name, dense_size=size, metadata=source.metadata(name) if size else None)
                if size is not None:
                    target.index_payload(name, "source", "keyword")
                    target.index_payload(name, "chunk_index", "integer")

                def progress(done: int, total: int, name: str = name) -> None:
                    if done == total or done % 10_240 == 0:
                        say(f"{name}: {done}/{total} points")

                copied = copy_points(source, target, name, mirror=False, progress=progress)
                if target.count(name) != source.count(name):  # pragma: no cover - a copy that lost points
                    raise RuntimeError(
                        f"upgrade of {name!r} copied {target.count(name)} of {source.count(name)}"
                    )
                report.collections[name] = copied.copied
        finally:
            target.close()
        (work / layout.COLLECTIONS).rename(folder / layout.COLLECTIONS)
        record = layout.read_json(work / layout.STORE_FILE, work)
        record["upgraded_from"] = f"qdrant-client {source.version} local mode"
        layout.write_json(folder / layout.STORE_FILE, record)  # the switch
    finally:
        source.close()
    _remove_local_mode_files(folder)
    report.seconds = time.perf_counter() - started
    return report


def _collections(source: ClientEngine) -> list[str]:
    """The folder's collections: ours (a ``dense`` vector) and their registries; others refused."""
    names = sorted(c.name for c in source.client.get_collections().collections)
    ours = {n for n in names if source.dense_size(n) is not None}
    others = [
        n
        for n in names
        if n not in ours and not (n.endswith(REGISTRY_SUFFIX) and n[: -len(REGISTRY_SUFFIX)] in ours)
    ]
    if others:
        raise InvalidOptionError(
            f"The store also holds collections not made by qwen3-rag ({', '.join(others)}; no "
            f"{DENSE_VECTOR!r} vector), which Qdrant Edge would not read the same way. Move them out "
            "(or delete them) and run the upgrade again, or keep this folder in local mode."
        )
    return names


def _remove_local_mode_files(folder: Path) -> None:
    """After the switch: the local-mode data and the upgrade's working folder go."""
    for leftover in (folder / "collection", folder / WORK):
        shutil.rmtree(leftover, ignore_errors=True)
    (folder / META_FILE).unlink(missing_ok=True)
