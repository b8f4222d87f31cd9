"""Copying a collection's points with their vectors from one engine to another (never re-embedding).

Shared by ``store upgrade`` (local mode -> Edge) and ``store push`` (a store -> a server). A copy is
idempotent by point id: a point the target already holds with the same content hash is skipped,
so a copy that was interrupted resumes where it stopped when run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._engine import Engine
from ._layout import CONTENT_HASH

PAGE = 256
Progress = Callable[[int, int], None]
"""Called with (points done, points in all) after each page."""


@dataclass
class CopyCount:
    copied: int = 0
    skipped: int = 0
    deleted: int = 0
    """Points the target held that the source does not (a mirror drops them)."""

    @property
    def seen(self) -> int:
        return self.copied + self.skipped


def copy_points(
    source: Engine,
    target: Engine,
    collection: str,
    *,
    target_collection: str | None = None,
    mirror: bool = True,
    progress: Progress | None = None,
    page: int = PAGE,
) -> CopyCount:
    """Copy every point of ``collection`` (payloads, dense and sparse vectors) into ``target``.

    With ``mirror``, target points whose ids the source lacks are deleted afterwards, so the
    target ends holding exactly the source's points.
    """
    into = target_collection or collection
    total = source.count(collection)
    count = CopyCount()
    seen_ids: set[str] = set()
    offset = None
    while True:
        batch, offset = source.scroll(collection, offset=offset, limit=page, with_vectors=True)
        if batch:
            ids = [p.id for p in batch]
            seen_ids.update(ids)
            held = {p.id: p.payload.get(CONTENT_HASH) for p in target.retrieve(into, ids, [CONTENT_HASH])}
            fresh = [p for p in batch if p.id not in held or held[p.id] != p.payload.get(CONTENT_HASH)]
            target.upsert(into, fresh)
            count.copied += len(fresh)
            count.skipped += len(batch) - len(fresh)
            if progress is not None:
                progress(count.seen, total)
        if offset is None:
            break
    if mirror:
        extra: list[str] = []
        offset = None
        while True:
            batch, offset = target.scroll(into, offset=offset, limit=page * 4, with_vectors=False)
            extra.extend(p.id for p in batch if p.id not in seen_ids)
            if offset is None:
                break
        for start in range(0, len(extra), page):
            target.delete_ids(into, extra[start : start + page])
        count.deleted = len(extra)
    target.flush(into)
    return count
