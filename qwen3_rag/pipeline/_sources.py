"""The source registry: one record per ingested file or document, beside the chunks' collection.

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

from ._layout import source_key

REGISTRY_SUFFIX = "__sources"
_RECORD_NAMESPACE = uuid.UUID("0b6f2e52-8a8e-5c1e-9f0a-4d3b8c2a7e15")  # fixed forever, like point ids
_SCROLL_PAGE = 1024


FILE, DOCUMENT = "file", "document"
"""The kinds of source: a file ingested from a folder, or a document given by id (framework, API)."""


@dataclass(frozen=True)
class SourceRecord:
    """An ingested source: its path or document id, chunk count, and when its chunks were last
    written (UTC ISO); its tenant, if any, and whether it is a file or a document."""

    source: str
    chunks: int
    ingested_at: str | None
    complete: bool = True
    """False while an ingestion of this source is under way (or was killed part-way)."""
    tenant: str | None = None
    kind: str = FILE
    fields: tuple[str, ...] = ()
    """The names of its metadata fields (what ``--filter`` can name), sorted."""

    @property
    def key(self) -> str:
        """Its key in the registry and in its chunks' point ids (:func:`~._layout.source_key`)."""
        return source_key(self.source, self.tenant)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "source": self.source,
            "chunks": self.chunks,
            "ingested_at": self.ingested_at,
            "complete": self.complete,
        }
        if self.tenant is not None:  # a file's record without tenant stays as it always was
            payload["tenant"] = self.tenant
        if self.kind != FILE:
            payload["kind"] = self.kind
        if self.fields:
            payload["fields"] = list(self.fields)
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> SourceRecord:
        tenant = payload.get("tenant")
        return cls(
            source=str(payload["source"]),
            chunks=int(payload.get("chunks", 0)),
            ingested_at=payload.get("ingested_at"),
            complete=bool(payload.get("complete", True)),
            tenant=None if tenant is None else str(tenant),
            kind=str(payload.get("kind", FILE)),
            fields=tuple(str(f) for f in payload.get("fields") or ()),
        )


def record_id(key: str) -> str:
    """The registry point id of the source with :attr:`SourceRecord.key` ``key``."""
    return str(uuid.uuid5(_RECORD_NAMESPACE, key))


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

        points = [StoredPoint(record_id(r.key), r.to_payload()) for r in records]
        if points:
            self._store.flush()  # a record marked complete must not reach the disk before its chunks
            self._store.engine.upsert(self.collection, points)
            self._store.engine.flush(self.collection)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the records of these source keys (:attr:`SourceRecord.key`: the path without tenant)."""
        if keys:
            self._store.flush()  # the chunks' deletion first: a record outlives its chunks, never less
            self._store.engine.delete_ids(self.collection, [record_id(k) for k in keys])
            self._store.engine.flush(self.collection)

    def drop(self) -> None:
        self._store.engine.drop(self.collection)
