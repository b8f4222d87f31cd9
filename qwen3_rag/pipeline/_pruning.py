"""Removing sources: files gone from an ingested folder, or named by the user.

Chunks go first, the source's record last (see :mod:`.sources`), so a removal killed at any
point is finished by running it again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ._sources import SourceRecord, is_under, is_walked

if TYPE_CHECKING:
    from ._store import QdrantStore

logger = logging.getLogger(__name__)


def sources_under(records: Iterable[SourceRecord], roots: Sequence[str]) -> list[SourceRecord]:
    """The records of sources at or below any of ``roots`` (absolute, resolved POSIX paths)."""
    return [r for r in records if any(is_under(r.source, root) for root in roots)]


def missing_sources(
    records: Iterable[SourceRecord], roots: Sequence[str], found: set[str]
) -> list[SourceRecord]:
    """Recorded sources that a walk of ``roots`` would reach but did not find: deleted or renamed."""
    return [
        r
        for r in records
        if r.source not in found
        and any(is_under(r.source, root) and is_walked(r.source, root) for root in roots)
    ]


def remove_sources(store: QdrantStore, records: Sequence[SourceRecord]) -> tuple[int, int]:
    """Delete each source's chunks, then its record; ``(files, chunks)`` removed."""
    chunks = 0
    for record in records:
        if not record.complete:  # interrupted while being written: its count is not known
            record = replace(record, chunks=store.count_source(record.source, tenant=record.tenant))
        store.delete_source(record.source, tenant=record.tenant)
        store.sources.delete([record.key])
        chunks += record.chunks
        logger.info("qwen3-rag: removed %s (%d chunks)", record.source, record.chunks)
    return len(records), chunks
