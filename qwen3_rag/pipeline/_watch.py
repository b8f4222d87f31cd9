"""Keeping a collection mirroring folders as files change: ``qwen3-rag ingest --watch``.

After the first full pass, file-system events (watchfiles: inotify, FSEvents, ReadDirectoryChangesW)
are collected until the folders have been quiet for ``debounce_ms``; each such batch is then
applied with the same machinery as a plain run:

- paths that exist (created, edited, the new name of a renamed file, a folder moved in) are
  ingested by an :class:`~.Ingestor` (unchanged chunks skipped by hash, edits rewritten, a shorter
  file's leftovers deleted);
- paths that are gone (deleted, the old name of a renamed file, a folder moved out) have their
  sources removed, chunks first and record last (:mod:`.pruning`).

So a watcher killed at any point leaves what a plain run killed there would, and the next run
(plain or watching) finishes the job. Hidden files and folders are ignored as ingest ignores
them, which also keeps an embedded store inside a watched folder (``.qwen3-rag``) from
triggering itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import MissingDependencyError
from .._wording import plural
from ._ingest import Ingestor, IngestReport
from ._pruning import remove_sources, sources_under
from ._sources import FILE, as_source

logger = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_MS = 1000


@dataclass
class ChangeBatch:
    """What one batch of changes did: the ingest of what exists, the removal of what is gone."""

    changed: int
    report: IngestReport
    removed_files: int = 0
    removed_chunks: int = 0

    def summary(self) -> str:
        text = f"{plural(self.changed, 'change')}: {self.report.summary()}"
        if self.removed_files:
            text += f"; removed {plural(self.removed_files, 'file')}, {plural(self.removed_chunks, 'chunk')}"
        return text


def _hidden_under(path: Path, roots: Sequence[Path]) -> bool:
    for root in roots:
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        return any(part.startswith(".") for part in relative.parts)
    return True  # not under any watched path: not ours


def apply_changes(ingestor: Ingestor, changes: set[tuple[bool, str]]) -> ChangeBatch:
    """Mirror one batch of changes, ``(added, absolute path)`` each, into the collection."""
    paths = {path for _, path in changes}
    # A folder is walked only when it arrived (moved in, created): "modified" on a folder just
    # means an entry changed inside it, and that entry has its own event.
    existing = sorted(
        path for path in paths if os.path.isfile(path) or (os.path.isdir(path) and (True, path) in changes)
    )
    gone = sorted(p for p in paths if not os.path.exists(p))
    report = ingestor.ingest(existing) if existing else IngestReport()
    batch = ChangeBatch(len(paths), report)
    if gone:
        records = [r for r in ingestor.store.sources.all() if r.tenant == ingestor.tenant and r.kind == FILE]
        stale = sources_under(records, [as_source(p) for p in gone])
        batch.removed_files, batch.removed_chunks = remove_sources(ingestor.store, stale)
    return batch


def watch_and_mirror(
    ingestor: Ingestor,
    paths: Sequence[str | os.PathLike[str]],
    *,
    on_batch: Callable[[ChangeBatch], None],
    stop_event: Any = None,
    debounce_ms: int = DEFAULT_DEBOUNCE_MS,
) -> None:
    """Apply each debounced batch of changes under ``paths`` until ``stop_event`` is set or Ctrl-C.

    ``ingestor`` must keep missing files (``keep_missing=True``): it is given only the changed
    paths, and removals are decided here from the events. Returns normally on Ctrl-C (SIGINT).
    """
    try:
        from watchfiles import Change, watch
    except ImportError as exc:
        raise MissingDependencyError("--watch needs watchfiles: pip install 'qwen3-rag[watch]'") from exc
    roots = [Path(as_source(p)) for p in paths]
    watched = [str(r) for r in roots if r.exists()]

    def wanted(_change: Any, path: str) -> bool:
        return not _hidden_under(Path(path), roots)

    for changes in watch(
        *watched,
        watch_filter=wanted,
        debounce=debounce_ms,
        step=50,
        stop_event=stop_event,
        raise_interrupt=False,  # Ctrl-C ends the loop; the caller says goodbye
        yield_on_timeout=False,
    ):
        changed = {(change == Change.added, path) for change, path in changes}
        logger.debug("qwen3-rag: %d change(s): %s", len(changed), sorted(changed))
        on_batch(apply_changes(ingestor, changed))
