"""Ingestion: files or documents -> chunks -> vectors -> Qdrant, idempotent and resumable.

Files and documents take one path: a file is read (streamed) as a document whose id is its
path; a :class:`~._source_documents.SourceDocument` is a document given by id, with metadata (and
a tenant) stored with each chunk. Every chunk's point id is ``uuid5(source key, chunk_index)``
(:func:`~._layout.source_key`: the source, with its tenant when it has one), and its payload
carries a hash of its text (and metadata). So, for each document:

- chunks whose id is stored with the same hash are skipped (re-ingesting changes nothing);
- new or changed chunks are embedded and upserted in batches, overwriting their old point;
- chunks of that file with an index past the new chunk count are deleted (an edited file
  leaves nothing behind).

Then the collection is made to mirror the given folders: sources recorded under them whose file is
gone (deleted, renamed) are removed (:mod:`.pruning`), unless ``keep_missing``; for documents, on
request, those registered under an id prefix that were not given (``remove_missing_under``).

Files are read and chunked as a stream and written in bounded batches, so memory does not grow
with file size. Nothing depends on what an earlier run did or did not finish (see
:mod:`.sources` for the ordering that keeps the source records true), which is why a run
interrupted at any point and run again ends identical to an uninterrupted one.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._errors import InvalidOptionError
from .._runtime.validation import check_positive_int
from ._chunking import TokenChunker
from ._ingest_settings import (
    CHUNK_HEADERS_OPTION,
    IngestReport,
    byte_progress_bar,
    choose_chunk_headers,
    choose_chunker,
    chunk_digest,
    chunk_header,
)
from ._layout import TENANT, chunk_payload, content_hash, point_id, source_key
from ._loaders import Document, SkippedFile, find_files, iter_documents
from ._naming import source_text
from ._provenance import Provenance
from ._pruning import missing_sources, remove_sources
from ._source_documents import ChunkedDocument, SourceDocument, check_tenant
from ._sources import DOCUMENT, FILE, SourceRecord, as_source, now_utc
from ._sparse import sparse_vectors
from ._store import EmbeddingSpec, QdrantStore

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
LEFTOVER_WINDOW = 64
LOOKUP_WINDOW = 256  # chunk ids looked up per request while a file streams by

__all__ = [
    "IngestReport",
    "Ingestor",
    "byte_progress_bar",
    "choose_chunk_headers",
    "choose_chunker",
    "chunk_digest",
    "content_hash",
    "point_id",
]


class _ReadError(Exception):
    """A document's text could not be read (gone, unreadable, not UTF-8): that file is skipped."""

    def __init__(self, cause: OSError | UnicodeDecodeError) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class _Origin:
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
class _Piece:
    """One chunk on its way in: its text, where it lies, its header, metadata and given vector."""

    text: str
    where: Provenance
    header: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    vector: Sequence[float] | None = None


@dataclass
class _Pending:
    """Chunks waiting to be embedded and written, and the sources they complete when written."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    vectors: list[Sequence[float] | None] = field(default_factory=list)
    """Given dense vectors (``None``: embed the text)."""
    origins: dict[str, _Origin] = field(default_factory=dict)
    """The sources with chunks in this batch, by key: recorded before their first chunk."""
    finished: list[SourceRecord] = field(default_factory=list)


@dataclass
class _Run:
    """The state of one :meth:`Ingestor.ingest` (or ``ingest_documents``, ``write_chunks``) call."""

    report: IngestReport
    records: dict[str, SourceRecord]
    """The registry's records, by :attr:`SourceRecord.key`."""
    on_batch: Callable[[int], None] | None
    bar: Any = None
    pending: _Pending = field(default_factory=_Pending)


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


class Ingestor:
    """Put files or documents into a :class:`QdrantStore` with a :class:`~qwen3_rag.Qwen3Embedder`.

    >>> ingestor = Ingestor(store, embedder, chunk_tokens=512, overlap=64)
    >>> report = ingestor.ingest(["./docs"])
    >>> report = ingestor.ingest_documents([SourceDocument("kb/1", "text ...", {"team": "ops"})])
    >>> print(report.summary())

    ``progress=None`` shows a progress bar (in bytes read) only when stderr is a terminal.
    ``keep_missing=True`` keeps the chunks of files that disappeared from the given folders.
    ``chunk_headers=True`` embeds each chunk with its document's title and heading path before it
    (contextual chunk headers); the stored and returned text stays the chunk alone. ``None``
    follows what the collection recorded (off for a new one), as the chunk sizes do.
    ``tenant`` stores everything this ingestor writes under that tenant (a document's own
    ``tenant`` wins), and scopes pruning and ``remove_missing_under`` to it. ``index_fields``
    makes payload indexes on user metadata fields people filter on
    (:meth:`QdrantStore.index_fields`: names, or ``{name: kind}``).
    """

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

    def _begin(self, on_batch: Callable[[int], None] | None, bar: Any = None) -> _Run:
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
        return _Run(IngestReport(), records, on_batch, bar)

    def _end(self) -> None:
        self.store.build_index(say=logger.warning if _show_progress(self.progress) else None)  # when it pays

    def ingest(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest every file under ``paths``; ``on_batch(n)`` runs after each upserted batch.

        Paths that do not exist are reported as skipped and never pruned (an unmounted drive
        must not empty the collection).
        """
        files, missing = find_files(paths)
        for item in missing:
            logger.warning("qwen3-rag: skipped %s: %s", item.path, item.reason)
        run = self._begin(on_batch, self._bar(sum(_size(f) for f in files)))
        report = run.report
        report.skipped.extend(missing)
        try:
            for loaded in iter_documents(files):
                if isinstance(loaded, SkippedFile):
                    report.skipped.append(loaded)
                    self._advance(run, _size(loaded.path))
                else:
                    self._add_document(loaded, _Origin(loaded.source, self.tenant), run)
            self._flush(run)
        finally:
            if run.bar is not None:
                run.bar.close()
        if not self.keep_missing and not self._fresh:
            roots = [as_source(p) for p in paths if Path(p).expanduser().exists()]
            ours = [r for r in run.records.values() if r.kind == FILE and r.tenant == self.tenant]
            gone = missing_sources(ours, roots, {source_text(f) for f in files})
            report.removed_files, report.removed_chunks = remove_sources(self.store, gone)
        self._end()
        return report

    def ingest_documents(
        self,
        documents: Iterable[SourceDocument],
        *,
        remove_missing_under: str | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest documents given by id, with every guarantee of :meth:`ingest`.

        Chunked with the collection's chunker; unchanged chunks are skipped (by hash of text and
        metadata), an edited document's chunks replaced with none left behind, each recorded
        in the registry (``qwen3-rag sources`` lists it). ``remove_missing_under=PREFIX`` then
        removes the registered documents (of this ingestor's tenant) whose id starts with
        ``PREFIX`` and that were not given (``""``: all of them): the collection mirrors a
        source that deletes documents. Crash-safe as :meth:`ingest`: a run killed at any point
        and run again ends as if never interrupted.
        """
        if remove_missing_under is not None and not isinstance(remove_missing_under, str):
            raise InvalidOptionError(
                "remove_missing_under must be an id prefix (a str), got "
                f"{type(remove_missing_under).__name__}."
            )
        run = self._begin(on_batch)
        given: set[str] = set()
        for document, tenant in self._each(documents, SourceDocument, "ingest_documents", given):
            origin = _Origin(
                document.id, tenant, DOCUMENT, document.metadata, tuple(sorted(document.metadata))
            )
            text = document.text
            self._add_document(Document(source=document.id, text=text, size=len(text)), origin, run)
        self._flush(run)
        if remove_missing_under is not None and not self._fresh:
            gone = [
                r
                for r in run.records.values()
                if r.kind == DOCUMENT
                and r.tenant == self.tenant
                and r.source.startswith(remove_missing_under)
                and r.key not in given
            ]
            removed = remove_sources(self.store, gone)
            run.report.removed_documents, run.report.removed_chunks = removed
        self._end()
        return run.report

    def write_chunks(
        self,
        documents: Iterable[ChunkedDocument],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Write documents chunked by their caller (a framework's nodes), as :meth:`ingest_documents`
        writes documents it chunks: same layout, registry, hashes and crash safety.

        Each :class:`ChunkedDocument`'s chunks replace what its id held: unchanged ones (same text
        and metadata) are skipped, chunks past the new count deleted. Given ``vectors`` are checked
        against the collection's dimensions and stored as they are; sparse vectors are computed
        with the collection's tokenizer rules either way.
        """
        run = self._begin(on_batch)
        for document, tenant in self._each(documents, ChunkedDocument, "write_chunks", set()):
            vectors = self._check_vectors(document)
            fields = sorted({name for i in range(len(document.chunks)) for name in document.metadata_of(i)})
            origin = _Origin(document.id, tenant, DOCUMENT, {}, tuple(fields))
            pieces = [
                _Piece(
                    text, Provenance(), "", document.metadata_of(i), None if vectors is None else vectors[i]
                )
                for i, text in enumerate(document.chunks)
            ]
            self._write_pieces(iter(pieces), origin, run)
        self._flush(run)
        self._end()
        return run.report

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

    def remove(self, source: str, *, tenant: str | None = None) -> int:
        """Remove one source (a document id or a file's stored path) of ``tenant`` (default: this
        ingestor's), its chunks first and its record last; the number of chunks removed (0: none)."""
        tenant = check_tenant(tenant) or self.tenant
        if not self.store.exists():
            return 0
        key = source_key(source, tenant)
        record = next((r for r in self.store.sources.all() if r.key == key), None)
        if record is None:  # no record (a collection from before the registry): by its chunks
            record = SourceRecord(source, 0, None, complete=False, tenant=tenant)
        return remove_sources(self.store, [record])[1]

    def _check_vectors(self, document: ChunkedDocument) -> list[list[float]] | None:
        if document.vectors is None:
            return None
        import math

        out = []
        for i, vector in enumerate(document.vectors):
            values = [float(x) for x in (vector.tolist() if hasattr(vector, "tolist") else vector)]
            if len(values) != self.spec.dimensions:
                raise InvalidOptionError(
                    f"ChunkedDocument {document.id!r}: vector {i} has {len(values)} dimensions; the "
                    f"collection's model {self.spec.model!r} makes {self.spec.dimensions}."
                )
            if not all(math.isfinite(x) for x in values):
                raise InvalidOptionError(
                    f"ChunkedDocument {document.id!r}: vector {i} holds NaN or infinity."
                )
            out.append(values)
        return out

    def _bar(self, total_bytes: int) -> Any:
        if not _show_progress(self.progress):
            return None
        return byte_progress_bar(total_bytes)

    @staticmethod
    def _advance(run: _Run, count: int) -> None:
        if run.bar is not None and count > 0:
            run.bar.update(count)

    def _read(self, doc: Document, run: _Run) -> Iterator[str]:
        """The document's pieces, moving the progress bar by the bytes each one took."""
        done = 0
        for piece in doc.pieces():
            size = len(piece.encode("utf-8")) if doc.text is None else doc.size
            self._advance(run, min(size, doc.size - done))
            done += size
            yield piece
        self._advance(run, doc.size - done)

    def _pieces(self, doc: Document, origin: _Origin, run: _Run) -> Iterator[_Piece]:
        """The document's chunks; a failure to read it is a :class:`_ReadError` (the store's own
        errors, some of them ``OSError`` too, pass as they are)."""
        assert self.chunker is not None
        spans = self.chunker.iter_spans(self._read(doc, run))
        while True:
            try:
                chunk = next(spans)
            except StopIteration:
                return
            except (OSError, UnicodeDecodeError) as exc:
                raise _ReadError(exc) from exc
            where = doc.provenance(chunk.start, chunk.end)
            header = chunk_header(doc, where) if self.headers else ""
            yield _Piece(chunk.text, where, header, origin.metadata)

    def _add_document(self, doc: Document, origin: _Origin, run: _Run) -> None:
        try:
            self._write_pieces(self._pieces(doc, origin, run), origin, run)
        except _ReadError as failure:
            exc = failure.cause
            # Gone, unreadable or changed to non-UTF-8 since it was checked: one skipped file. Its
            # queued chunks are dropped; any already written leave its record incomplete, so
            # `sources` says so and the next run completes or removes them.
            self._drop_pending(origin.key, run)
            old = run.records.get(origin.key)
            if old is not None and old.complete:  # some of its chunks may be rewritten already
                self._put_records(run, [replace(old, complete=False)])
            reason = f"unreadable ({exc.strerror or exc})" if isinstance(exc, OSError) else "not UTF-8 text"
            logger.warning("qwen3-rag: skipped %s: %s", doc.source, reason)
            run.report.skipped.append(SkippedFile(doc.source, reason))

    def _write_pieces(self, pieces: Iterator[_Piece], origin: _Origin, run: _Run) -> None:
        """Queue one source's chunks (those new or changed), delete its leftovers, complete its record."""
        count = 0
        changed = False
        window: list[_Piece] = []
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
    def _drop_pending(key: str, run: _Run) -> None:
        pending = run.pending
        keep = [i for i, pid in enumerate(pending.ids) if _key_of(pending.payloads[i]) != key]
        pending.ids = [pending.ids[i] for i in keep]
        pending.texts = [pending.texts[i] for i in keep]
        pending.payloads = [pending.payloads[i] for i in keep]
        pending.vectors = [pending.vectors[i] for i in keep]
        pending.origins.pop(key, None)

    def _put_records(self, run: _Run, records: Sequence[SourceRecord]) -> None:
        if records:
            self._materialise()
        self.store.sources.put(records)
        run.records.update((r.key, r) for r in records)

    def _queue(self, origin: _Origin, first_index: int, pieces: list[_Piece], run: _Run) -> bool:
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

    def _delete_leftovers(self, origin: _Origin, count: int) -> bool:
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

    def _flush(self, run: _Run) -> None:
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
        run.pending = _Pending()
        if run.bar is not None:
            run.bar.set_postfix(chunks=run.report.embedded + run.report.unchanged, refresh=False)
        if run.on_batch is not None:
            run.on_batch(count)

    def _dense(self, pending: _Pending) -> list[Any]:
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


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
