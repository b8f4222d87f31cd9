"""The write side of every :class:`~._ingest.Ingestor` call: chunks in, idempotent and resumable.

Whatever brings the chunks (files and documents chunked here, or chunks a framework split), they
are written one way. Every chunk's point id is ``uuid5(source key, chunk_index)``
(:func:`~._layout.source_key`: the source, with its tenant when it has one), and its payload
carries a hash of its text (and metadata). So, for each source:

- chunks whose id is stored with the same hash are skipped (writing again changes nothing);
- new or changed chunks are embedded (unless their vectors are given) and upserted in batches,
  overwriting their old point;
- chunks of that source with an index past the new chunk count are deleted (an edited document
  leaves nothing behind);
- its registry record is written before its first chunk and completed after its last
  (:mod:`.sources`), which is why a run interrupted at any point and run again ends identical to
  an uninterrupted one.

A collection that does not exist yet is created by the first write: a run that fails or finds
nothing to store leaves the store as it found it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import InvalidOptionError
from .._runtime.validation import check_positive_int
from ._chunking import TokenChunker
from ._ingest_settings import (
    CHUNK_HEADERS_OPTION,
    IngestReport,
    choose_chunk_headers,
    choose_chunker,
    chunk_digest,
)
from ._layout import TENANT, chunk_payload, point_id, source_key
from ._provenance import Provenance
from ._source_documents import check_tenant
from ._sources import FILE, SourceRecord, now_utc
from ._sparse import sparse_vectors
from ._store import EmbeddingSpec, QdrantStore

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
LEFTOVER_WINDOW = 64
LOOKUP_WINDOW = 256  # chunk ids looked up per request while a source's chunks stream by


@dataclass(frozen=True)
class Origin:
    """Whose chunks these are: a source (a path or a document id), its tenant, kind and metadata."""

    source: str
    tenant: str | None = None
    kind: str = FILE
    metadata: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()
    """Its metadata field names (with every chunk's own, for chunked documents), for the record."""

    @property
    def key(self) -> str:
        return source_key(self.source, self.tenant)

    def record(self, chunks: int, stamp: str | None, *, complete: bool = True) -> SourceRecord:
        return SourceRecord(
            self.source, chunks, stamp, complete, tenant=self.tenant, kind=self.kind, fields=self.fields
        )


@dataclass(frozen=True)
class Piece:
    """One chunk on its way in: its text, where it lies, its header, metadata and given vector."""

    text: str
    where: Provenance
    header: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    vector: Sequence[float] | None = None


@dataclass
class Pending:
    """Chunks waiting to be embedded and written, and the sources they complete when written."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    vectors: list[Sequence[float] | None] = field(default_factory=list)
    """Given dense vectors (``None``: embed the text)."""
    origins: dict[str, Origin] = field(default_factory=dict)
    """The sources with chunks in this batch, by key: recorded before their first chunk."""
    finished: list[SourceRecord] = field(default_factory=list)


@dataclass
class Run:
    """The state of one :meth:`Ingestor.ingest` (or ``ingest_documents``, ``write_chunks``) call."""

    report: IngestReport
    records: dict[str, SourceRecord]
    """The registry's records, by :attr:`SourceRecord.key`."""
    on_batch: Callable[[int], None] | None
    bar: Any = None
    pending: Pending = field(default_factory=Pending)


def show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


class IngestWriter:
    """An ingestor's settings and its writing of chunks (see the module docstring); the public
    calls are :class:`~._ingest.Ingestor`'s, which documents the options."""

    def __init__(
        self,
        store: QdrantStore,
        embedder: Any,
        *,
        chunk_tokens: int | None = None,
        overlap: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: bool | None = None,
        keep_missing: bool = False,
        chunk_headers: bool | None = None,
        tenant: str | None = None,
        index_fields: Mapping[str, Any] | Sequence[str] = (),
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        if chunk_tokens is not None:  # 0 must not fall back to the default below
            check_positive_int(chunk_tokens, "chunk_tokens")
        if chunk_tokens is not None and overlap is not None:
            TokenChunker(embedder.tokenizer, chunk_tokens=chunk_tokens, overlap=overlap)  # validate now
        self.chunker: TokenChunker | None = None
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.progress = progress
        self.keep_missing = bool(keep_missing)
        self.chunk_headers = chunk_headers
        self.headers = False  # what this run uses: chunk_headers, else as the collection recorded
        self.tenant = check_tenant(tenant)
        if isinstance(index_fields, str):
            raise InvalidOptionError(
                f"index_fields takes a list of field names, got the string {index_fields!r}."
            )
        self.index_fields = dict(index_fields) if isinstance(index_fields, Mapping) else list(index_fields)
        self.spec = EmbeddingSpec.for_embedder(embedder)
        self._fresh = False
        """True while the collection does not exist: nothing is read from the store, and the first
        write creates it."""
        self._tenant_indexed = False

    def _materialise(self) -> None:
        """Create the collection (and record the chunk sizes) just before the first write."""
        if self._fresh:
            assert self.chunker is not None
            self.store.ensure(self.spec)
            options = {CHUNK_HEADERS_OPTION: True} if self.headers else {}
            self.store.record_chunking(self.chunker.chunk_tokens, self.chunker.overlap, **options)
            self._fresh = False
            self._make_indexes()

    def _make_indexes(self) -> None:
        if self.index_fields:
            self.store.index_fields(self.index_fields)

    def _begin(self, on_batch: Callable[[int], None] | None, bar: Any = None) -> Run:
        """Open (or plan to create) the collection and read its records: the start of every run."""
        # A collection that does not exist yet is created by the first write (see _materialise):
        # a run that fails or finds nothing to store leaves the store as it found it.
        self._fresh = not self.store.exists()
        if not self._fresh:
            self.store.ensure(self.spec)
            self._make_indexes()
        live = None if self._fresh else self.store
        self.chunker = choose_chunker(live, self.embedder.tokenizer, self.chunk_tokens, self.overlap)
        self.headers = choose_chunk_headers(live, self.chunk_headers)
        records = {} if self._fresh else {r.key: r for r in self.store.sources.all()}
        return Run(IngestReport(), records, on_batch, bar)

    def _end(self) -> None:
        self.store.build_index(say=logger.warning if show_progress(self.progress) else None)  # when it pays

    def _each(
        self, documents: Iterable[Any], kind: type, call: str, given: set[str]
    ) -> Iterator[tuple[Any, str | None]]:
        """Each document with its tenant (its own, else this ingestor's), its key added to ``given``;
        another type, or an id given twice (for one tenant), is refused."""
        for document in documents:
            if not isinstance(document, kind):
                raise InvalidOptionError(
                    f"{call} takes {kind.__name__} objects, got {type(document).__name__}: wrap each as "
                    f"{kind.__name__}(id, ...)."
                )
            doc: Any = document  # a SourceDocument or ChunkedDocument (checked above): id and tenant
            tenant = doc.tenant or self.tenant
            key = source_key(doc.id, tenant)
            if key in given:
                raise InvalidOptionError(
                    f"The document id {doc.id!r} is given twice in one {call} call; ids must be "
                    "unique (each id is one document)."
                )
            given.add(key)
            yield doc, tenant

    def _write_pieces(self, pieces: Iterator[Piece], origin: Origin, run: Run) -> None:
        """Queue one source's chunks (those new or changed), delete its leftovers, complete its record."""
        count = 0
        changed = False
        window: list[Piece] = []
        for piece in pieces:
            window.append(piece)
            if len(window) == LOOKUP_WINDOW:
                changed |= self._queue(origin, count, window, run)
                count += len(window)
                window = []
        changed |= self._queue(origin, count, window, run)
        count += len(window)
        changed |= self._delete_leftovers(origin, count)
        if origin.kind == FILE:
            run.report.files += 1
        else:
            run.report.documents += 1
        run.report.chunks += count
        old = run.records.get(origin.key)
        if (
            changed
            or old is None
            or old.chunks != count
            or not old.complete
            or old.kind != origin.kind
            or old.fields != origin.fields
        ):
            stamp = now_utc() if changed or old is None else old.ingested_at
            done = origin.record(count, stamp)
            if run.pending.ids:  # complete the record once its last chunks are written
                run.pending.finished.append(done)
            else:
                self._put_records(run, [done])

    @staticmethod
    def _drop_pending(key: str, run: Run) -> None:
        pending = run.pending
        keep = [i for i, pid in enumerate(pending.ids) if _key_of(pending.payloads[i]) != key]
        pending.ids = [pending.ids[i] for i in keep]
        pending.texts = [pending.texts[i] for i in keep]
        pending.payloads = [pending.payloads[i] for i in keep]
        pending.vectors = [pending.vectors[i] for i in keep]
        pending.origins.pop(key, None)

    def _put_records(self, run: Run, records: Sequence[SourceRecord]) -> None:
        if records:
            self._materialise()
        self.store.sources.put(records)
        run.records.update((r.key, r) for r in records)

    def _queue(self, origin: Origin, first_index: int, pieces: list[Piece], run: Run) -> bool:
        """Queue the chunks of ``origin`` from ``first_index`` that are new or changed."""
        if not pieces:
            return False
        ids = [point_id(origin.key, first_index + i) for i in range(len(pieces))]
        stored = {} if self._fresh else self.store.existing_hashes(ids)
        queued = False
        for offset, (pid, piece) in enumerate(zip(ids, pieces, strict=True)):
            digest = chunk_digest(piece.text, piece.where, piece.header, piece.metadata)
            if stored.get(pid) == digest:
                run.report.unchanged += 1
                continue
            pending = run.pending
            pending.ids.append(pid)
            pending.texts.append(piece.header + piece.text)  # what is embedded; the payload keeps the text
            pending.payloads.append(
                chunk_payload(
                    origin.source,
                    first_index + offset,
                    piece.text,
                    digest,
                    piece.where,
                    piece.metadata,
                    origin.tenant,
                )
            )
            pending.vectors.append(piece.vector)
            pending.origins.setdefault(origin.key, origin)
            queued = True
            if len(pending.ids) >= self.batch_size:
                self._flush(run)
        return queued

    def _delete_leftovers(self, origin: Origin, count: int) -> bool:
        """Delete the chunks of ``origin`` from index ``count`` on (a longer earlier version's)."""
        # The stored chunks of a source are always a prefix 0..m-1 (batches are written in index
        # order and stale chunks are deleted as a suffix), so leftovers start at index `count`.
        # Probing a window of those ids finds them by id: a filtered delete is a full scan per
        # file in embedded Qdrant.
        if self._fresh:
            return False
        tail = [point_id(origin.key, count + i) for i in range(LEFTOVER_WINDOW)]
        stored = self.store.existing_hashes(tail)
        leftovers = [pid for pid in tail if pid in stored]
        if leftovers:
            self.store.delete_ids(leftovers)
        if tail[-1] in stored:  # more than the window: delete the rest by filter
            scope = {} if origin.tenant is None else {"tenant": origin.tenant}  # None: the default
            self.store.delete_source_from(origin.source, count + LEFTOVER_WINDOW, **scope)
        return bool(leftovers)

    def _flush(self, run: Run) -> None:
        pending = run.pending
        if not pending.ids:
            return
        # Embedded first: a run whose first batch cannot be embedded has written nothing yet.
        dense = self._dense(pending)
        sparse = sparse_vectors(self.embedder.tokenizer, pending.texts)
        # A source's record is written before its first chunk (see .sources): mark new ones now.
        new = [
            origin.record(0, None, complete=False)
            for key, origin in sorted(pending.origins.items())
            if key not in run.records
        ]
        self._materialise()
        if any(origin.tenant is not None for origin in pending.origins.values()) and not self._tenant_indexed:
            self.store.index_fields({TENANT: "tenant"})  # collections made before tenants lack it
            self._tenant_indexed = True
        self._put_records(run, new)
        self.store.upsert_chunks(pending.ids, pending.payloads, dense, sparse)
        self._put_records(run, pending.finished)
        count = len(pending.ids)
        run.report.embedded += count
        run.pending = Pending()
        if run.bar is not None:
            run.bar.set_postfix(chunks=run.report.embedded + run.report.unchanged, refresh=False)
        if run.on_batch is not None:
            run.on_batch(count)

    def _dense(self, pending: Pending) -> list[Any]:
        """The batch's dense vectors: those given as they are, the others embedded in one request."""
        todo = [i for i, vector in enumerate(pending.vectors) if vector is None]
        dense: list[Any] = list(pending.vectors)
        if todo:
            embedded = self.embedder.embed_documents([pending.texts[i] for i in todo])
            for i, vector in zip(todo, embedded, strict=True):
                dense[i] = vector
        return dense


def _key_of(payload: Mapping[str, Any]) -> str:
    from ._layout import payload_key

    return payload_key(payload)
