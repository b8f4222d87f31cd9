"""Ingestion: files or documents -> chunks -> vectors -> Qdrant, idempotent and resumable.

Files and documents take one path: a file is read (streamed) as a document whose id is its
path; a :class:`~._source_documents.SourceDocument` is a document given by id, with metadata (and
a tenant) stored with each chunk. Their chunks are written as every ingestion's are
(:mod:`._ingest_writer`): unchanged chunks skipped by hash, new or changed ones embedded and
upserted in batches, an edited document's leftovers deleted. Chunks split elsewhere and the
removal of one source are :mod:`._chunk_writes`'.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._errors import InvalidOptionError
from ._chunk_writes import ChunkWrites
from ._ingest_settings import (
    IngestReport,
    byte_progress_bar,
    choose_chunk_headers,
    choose_chunker,
    chunk_digest,
    chunk_header,
)
from ._ingest_writer import Origin, Piece, Run, show_progress
from ._layout import content_hash, point_id
from ._loaders import Document, SkippedFile, find_files, iter_documents
from ._naming import source_text
from ._pruning import missing_sources, remove_sources
from ._source_documents import SourceDocument
from ._sources import DOCUMENT, FILE, as_source

logger = logging.getLogger(__name__)

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


class Ingestor(ChunkWrites):
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

    ``write_chunks`` (chunks a framework split) and ``remove`` come from :mod:`._chunk_writes`.
    """

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
                    self._add_document(loaded, Origin(loaded.source, self.tenant), run)
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
            origin = Origin(
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

    def _bar(self, total_bytes: int) -> Any:
        if not show_progress(self.progress):
            return None
        return byte_progress_bar(total_bytes)

    @staticmethod
    def _advance(run: Run, count: int) -> None:
        if run.bar is not None and count > 0:
            run.bar.update(count)

    def _read(self, doc: Document, run: Run) -> Iterator[str]:
        """The document's pieces, moving the progress bar by the bytes each one took."""
        done = 0
        for piece in doc.pieces():
            size = len(piece.encode("utf-8")) if doc.text is None else doc.size
            self._advance(run, min(size, doc.size - done))
            done += size
            yield piece
        self._advance(run, doc.size - done)

    def _pieces(self, doc: Document, origin: Origin, run: Run) -> Iterator[Piece]:
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
            yield Piece(chunk.text, where, header, origin.metadata)

    def _add_document(self, doc: Document, origin: Origin, run: Run) -> None:
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


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
