"""The source registry: one record per ingested file, beside the chunks' collection.

A record holds the file's chunk count and when its chunks were last written. It lives in its own
small vectorless collection (``<collection>__sources``), so the chunks' collection stays exactly
the chunks and listing or pruning sources costs one record per file, not one per chunk.

Crash safety rests on one ordering rule: a source's record is written *before* any of its chunks
and removed only *after* all of them. So every stored chunk has a record, and a run killed at any
point leaves at worst a record whose chunks are incomplete, which the next run completes or
removes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any

REGISTRY_SUFFIX = "__sources"
_RECORD_NAMESPACE = uuid.UUID("0b6f2e52-8a8e-5c1e-9f0a-4d3b8c2a7e15")  # fixed forever, like point ids
_SCROLL_PAGE = 1024


@dataclass(frozen=True)
class SourceRecord:
    """An ingested source: its path, chunk count, and when its chunks were last written (UTC ISO)."""

    source: str
    chunks: int
    ingested_at: str | None
    complete: bool = True
    """False while an ingestion of this source is under way (or was killed part-way)."""

    def to_payload(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "chunks": self.chunks,
            "ingested_at": self.ingested_at,
            "complete": self.complete,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SourceRecord:
        return cls(
            source=str(payload["source"]),
            chunks=int(payload.get("chunks", 0)),
            ingested_at=payload.get("ingested_at"),
            complete=bool(payload.get("complete", True)),
        )


def record_id(source: str) -> str:
    return str(uuid.uuid5(_RECORD_NAMESPACE, source))


def now_utc() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def is_under(source: str, root: str) -> bool:
    """Whether ``source`` is ``root`` itself or a file below the folder ``root`` (absolute POSIX paths)."""
    if source == root:
        return True
    prefix = root if root.endswith("/") else root + "/"
    return source.startswith(prefix)


def is_walked(source: str, root: str) -> bool:
    """Whether a folder walk of ``root`` would reach ``source``: hidden entries are not walked.

    Only such sources are removed when missing: a hidden file ingested by name is left alone by
    a later ingest of its folder.
    """
    if source == root:
        return True
    relative = PurePosixPath(source).relative_to(root)
    return not any(part.startswith(".") for part in relative.parts)


def as_source(path: str | os.PathLike[str]) -> str:
    """The key a path is stored under: absolute, symlinks resolved, POSIX separators, valid UTF-8
    (a name that is not UTF-8 has its stray bytes written as ``\\xNN``: :mod:`._naming`)."""
    from pathlib import Path

    from ._naming import source_text

    return source_text(Path(path).expanduser().resolve())


class SourceRegistry:
    """Records of the sources in one collection, read and written through a ``QdrantStore``'s engine.

    On an engine that does not fsync each update (Qdrant Edge), each write is flushed, and the
    chunks are flushed before the records that vouch for them: the ordering rule must hold on disk.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self.collection = f"{store.collection}{REGISTRY_SUFFIX}"

    def exists(self) -> bool:
        return bool(self._store.engine.exists(self.collection))

    def create(self) -> None:
        """Create the registry, filling it from the chunks when the collection predates it."""
        if self.exists():
            return
        self._store.engine.create(self.collection, dense_size=None, metadata=None)
        counts = self._store.chunk_counts()
        if counts:
            self.put([SourceRecord(source, n, None) for source, n in counts.items()])

    def all(self) -> list[SourceRecord]:
        if not self.exists():
            return [SourceRecord(s, n, None) for s, n in sorted(self._store.chunk_counts().items())]
        records: list[SourceRecord] = []
        offset = None
        while True:
            page, offset = self._store.engine.scroll(
                self.collection, offset=offset, limit=_SCROLL_PAGE, with_vectors=False
            )
            records.extend(SourceRecord.from_payload(p.payload) for p in page)
            if offset is None:
                break
        return sorted(records, key=lambda r: r.source)

    def put(self, records: Iterable[SourceRecord]) -> None:
        from ._engine import StoredPoint

        points = [StoredPoint(record_id(r.source), r.to_payload()) for r in records]
        if points:
            self._store.flush()  # a record marked complete must not reach the disk before its chunks
            self._store.engine.upsert(self.collection, points)
            self._store.engine.flush(self.collection)

    def delete(self, sources: Sequence[str]) -> None:
        if sources:
            self._store.flush()  # the chunks' deletion first: a record outlives its chunks, never less
            self._store.engine.delete_ids(self.collection, [record_id(s) for s in sources])
            self._store.engine.flush(self.collection)

    def drop(self) -> None:
        self._store.engine.drop(self.collection)
