"""``qwen3-rag store push``: copy a collection, its metadata and its source registry to a server.

One command moves a laptop's store to a Qdrant server or cluster without re-embedding: points go
with their vectors, ids unchanged. Resumable and idempotent by point id (see :mod:`._copying`):
run it again after an interruption, or after more ingestion, and it sends only what the target
lacks, then drops target points the source no longer has, so the target mirrors the source.

The registry follows ingestion's ordering rule on the target too: records go first marked
incomplete, then the chunks, then the records as the source has them; an interrupted push leaves
records that say "incomplete", never chunks without a record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ._copying import Progress, copy_points
from ._store import QdrantStore


@dataclass
class PushReport:
    collection: str
    target: str
    copied: int
    skipped: int
    deleted: int
    sources: int
    seconds: float

    def summary(self) -> str:
        return (
            f"pushed {self.collection!r} to {self.target}: {self.copied} points sent, {self.skipped} "
            f"already there, {self.deleted} dropped, {self.sources} sources, in {self.seconds:.1f} s"
        )


def push(source: QdrantStore, target: QdrantStore, *, progress: Progress | None = None) -> PushReport:
    """Make ``target``'s collection hold exactly ``source``'s points, metadata and source records."""
    started = time.perf_counter()
    spec = source.open()
    metadata = source.read_metadata()
    if target.exists():
        target.open(spec)  # refuses another model's collection before anything is written
        target.engine.update_metadata(target.collection, metadata)
        target.sources.create()
    else:
        target.create_collection(spec.dimensions, metadata)
    records = source.sources.all()
    target.sources.put([replace(r, complete=False) for r in records])
    count = copy_points(
        source.engine,
        target.engine,
        source.collection,
        target_collection=target.collection,
        progress=progress,
    )
    kept = {r.key for r in records}
    target.sources.delete([r.key for r in target.sources.all() if r.key not in kept])
    target.sources.put(records)
    return PushReport(
        source.collection,
        target.where,
        count.copied,
        count.skipped,
        count.deleted,
        len(records),
        time.perf_counter() - started,
    )
