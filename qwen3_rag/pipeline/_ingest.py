"""Ingestion: files -> chunks -> vectors -> Qdrant, idempotent and resumable.

Every chunk's point id is ``uuid5(source, chunk_index)``, and its payload carries a hash of its
text. So, for each file:

- chunks whose id is stored with the same hash are skipped (re-ingesting changes nothing);
- new or changed chunks are embedded and upserted in batches, overwriting their old point;
- chunks of that file with an index past the new chunk count are deleted (an edited file
  leaves nothing behind).

Then the collection is made to mirror the given folders: sources recorded under them whose file is
gone (deleted, renamed) are removed (:mod:`.pruning`), unless ``keep_missing``.

Files are read and chunked as a stream and written in bounded batches, so memory does not grow
with file size. Nothing depends on what an earlier run did or did not finish (see
:mod:`.sources` for the ordering that keeps the source records true), which is why a run
interrupted at any point and run again ends identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._runtime.validation import check_positive_int
from .._wording import plural
from ._chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from ._layout import SOURCE, chunk_payload, content_hash, point_id
from ._loaders import Document, SkippedFile, find_files, iter_documents
from ._naming import source_text
from ._provenance import Provenance
from ._pruning import missing_sources, remove_sources
from ._sources import SourceRecord, as_source, now_utc
from ._sparse import sparse_vectors
from ._store import EmbeddingSpec, QdrantStore

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 64
LEFTOVER_WINDOW = 64
LOOKUP_WINDOW = 256  # chunk ids looked up per request while a file streams by
CHUNK_HEADERS_OPTION = "chunk_headers"  # recorded in the collection beside the chunk sizes


__all__ = ["IngestReport", "Ingestor", "content_hash", "point_id"]


@dataclass
class IngestReport:
    """What an ingestion did; ``skipped`` lists the files that could not be read, with why."""

    files: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    removed_files: int = 0
    """Sources under the given folders whose files are gone, removed from the collection."""
    removed_chunks: int = 0

    def summary(self) -> str:
        text = (
            f"{plural(self.files, 'file')}, {plural(self.chunks, 'chunk')}: {self.embedded} embedded, "
            f"{self.unchanged} unchanged"
        )
        if self.removed_files:
            text += f"; removed {plural(self.removed_files, 'file')}, {plural(self.removed_chunks, 'chunk')}"
        if self.skipped:
            text += f"; skipped {plural(len(self.skipped), 'file')} that could not be read as text"
        return text


def byte_progress_bar(total_bytes: int, **options: Any) -> Any:
    """Ingest's progress bar. Bytes, not files: one huge file moves the bar too; the unit on both
    counts ("15.7kB/15.7kB"), where tqdm's default shows it on the rate only."""
    from tqdm.auto import tqdm

    shape = "{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}]"
    return tqdm(total=total_bytes, unit="B", unit_scale=True, desc="ingest", bar_format=shape, **options)


@dataclass
class _Pending:
    """Chunks waiting to be embedded and written, and the sources they complete when written."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    finished: list[SourceRecord] = field(default_factory=list)


@dataclass
class _Run:
    """The state of one :meth:`Ingestor.ingest` call."""

    report: IngestReport
    records: dict[str, SourceRecord]
    on_batch: Callable[[int], None] | None
    bar: Any
    pending: _Pending = field(default_factory=_Pending)


def choose_chunker(
    store: QdrantStore | None, tokenizer: Any, chunk_tokens: int | None, overlap: int | None
) -> TokenChunker:
    """Chunk sizes: as given, else as the collection last used, else the defaults; recorded.

    Following the collection keeps a plain re-run a no-op: other sizes would re-cut and re-embed
    every file. ``store=None`` (a collection not created yet) records nothing.
    """
    recorded = store.read_chunking() if store is not None else None
    tokens = chunk_tokens or (recorded[0] if recorded else DEFAULT_CHUNK_TOKENS)
    if overlap is None:
        use_recorded = recorded is not None and chunk_tokens in (None, recorded[0])
        overlap = recorded[1] if recorded and use_recorded else min(DEFAULT_CHUNK_OVERLAP, tokens // 4)
    chunker = TokenChunker(tokenizer, chunk_tokens=tokens, overlap=overlap)
    if store is not None and recorded != (tokens, overlap):
        store.record_chunking(tokens, overlap, **store.read_chunking_options())
    return chunker


def choose_chunk_headers(store: QdrantStore | None, wanted: bool | None) -> bool:
    """Contextual chunk headers: as given, else as the collection last used, else off; recorded.

    Call after :func:`choose_chunker` (the sizes are recorded with them). Following the collection
    keeps a plain re-run a no-op: switching headers re-embeds every chunk. ``store=None`` (a
    collection not created yet) records nothing.
    """
    if store is None:
        return bool(wanted)
    options = store.read_chunking_options()
    recorded = bool(options.get(CHUNK_HEADERS_OPTION, False))
    use = recorded if wanted is None else bool(wanted)
    if use != recorded:
        sizes = store.read_chunking()
        assert sizes is not None, "choose_chunker records the sizes first"
        store.record_chunking(*sizes, **{**options, CHUNK_HEADERS_OPTION: use})
    return use


def chunk_header(doc: Document, where: Provenance) -> str:
    """What is prefixed to a chunk's embedded text: the document's title and the heading path."""
    lines = [doc.title or Path(doc.source).name]
    if where.headings:
        lines.append(where.section)
    return "\n".join(lines) + "\n\n"


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


class Ingestor:
    """Put files into a :class:`QdrantStore` with a :class:`~qwen3_rag.Qwen3Embedder`.

    >>> ingestor = Ingestor(store, embedder, chunk_tokens=512, overlap=64)
    >>> report = ingestor.ingest(["./docs"])
    >>> print(report.summary())

    ``progress=None`` shows a progress bar (in bytes read) only when stderr is a terminal.
    ``keep_missing=True`` keeps the chunks of files that disappeared from the given folders.
    ``chunk_headers=True`` embeds each chunk with its document's title and heading path before it
    (contextual chunk headers); the stored and returned text stays the chunk alone. ``None``
    follows what the collection recorded (off for a new one), as the chunk sizes do.
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
        self.spec = EmbeddingSpec.for_embedder(embedder)
        self._fresh = False
        """True while the collection does not exist: nothing is read from the store, and the first
        write creates it."""

    def _materialise(self) -> None:
        """Create the collection (and record the chunk sizes) just before the first write."""
        if self._fresh:
            assert self.chunker is not None
            self.store.ensure(self.spec)
            options = {CHUNK_HEADERS_OPTION: True} if self.headers else {}
            self.store.record_chunking(self.chunker.chunk_tokens, self.chunker.overlap, **options)
            self._fresh = False

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
        # A collection that does not exist yet is created by the first write (see _materialise):
        # a run that fails or finds nothing to store leaves the store as it found it.
        self._fresh = not self.store.exists()
        if not self._fresh:
            self.store.ensure(self.spec)
        live = None if self._fresh else self.store
        self.chunker = choose_chunker(live, self.embedder.tokenizer, self.chunk_tokens, self.overlap)
        self.headers = choose_chunk_headers(live, self.chunk_headers)
        files, missing = find_files(paths)
        for item in missing:
            logger.warning("qwen3-rag: skipped %s: %s", item.path, item.reason)
        report = IngestReport(skipped=list(missing))
        records = {} if self._fresh else {r.source: r for r in self.store.sources.all()}
        run = _Run(report, records, on_batch, self._bar(sum(_size(f) for f in files)))
        try:
            for loaded in iter_documents(files):
                if isinstance(loaded, SkippedFile):
                    report.skipped.append(loaded)
                    self._advance(run, _size(loaded.path))
                else:
                    self._add_document(loaded, run)
            self._flush(run)
        finally:
            if run.bar is not None:
                run.bar.close()
        if not self.keep_missing and not self._fresh:
            roots = [as_source(p) for p in paths if Path(p).expanduser().exists()]
            gone = missing_sources(run.records.values(), roots, {source_text(f) for f in files})
            report.removed_files, report.removed_chunks = remove_sources(self.store, gone)
        self.store.build_index(say=logger.warning if _show_progress(self.progress) else None)  # when it pays
        return report

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

    def _add_document(self, doc: Document, run: _Run) -> None:
        assert self.chunker is not None
        count = 0
        changed = False
        window: list[tuple[str, Provenance, str]] = []
        try:
            for chunk in self.chunker.iter_spans(self._read(doc, run)):
                where = doc.provenance(chunk.start, chunk.end)
                header = chunk_header(doc, where) if self.headers else ""
                window.append((chunk.text, where, header))
                if len(window) == LOOKUP_WINDOW:
                    changed |= self._queue(doc.source, count, window, run)
                    count += len(window)
                    window = []
        except (OSError, UnicodeDecodeError) as exc:
            # Gone, unreadable or changed to non-UTF-8 since it was checked: one skipped file. Its
            # queued chunks are dropped; any already written leave its record incomplete, so
            # `sources` says so and the next run completes or removes them.
            self._drop_pending(doc.source, run)
            old = run.records.get(doc.source)
            if old is not None and old.complete:  # some of its chunks may be rewritten already
                unsure = SourceRecord(doc.source, old.chunks, old.ingested_at, complete=False)
                self._put_records(run, [unsure])
            reason = f"unreadable ({exc.strerror or exc})" if isinstance(exc, OSError) else "not UTF-8 text"
            logger.warning("qwen3-rag: skipped %s: %s", doc.source, reason)
            run.report.skipped.append(SkippedFile(doc.source, reason))
            return
        changed |= self._queue(doc.source, count, window, run)
        count += len(window)
        changed |= self._delete_leftovers(doc.source, count)
        run.report.files += 1
        run.report.chunks += count
        old = run.records.get(doc.source)
        if changed or old is None or old.chunks != count or not old.complete:
            stamp = now_utc() if changed or old is None else old.ingested_at
            done = SourceRecord(doc.source, count, stamp)
            if run.pending.ids:  # complete the record once its last chunks are written
                run.pending.finished.append(done)
            else:
                self._put_records(run, [done])

    @staticmethod
    def _drop_pending(source: str, run: _Run) -> None:
        pending = run.pending
        keep = [i for i, payload in enumerate(pending.payloads) if payload[SOURCE] != source]
        pending.ids = [pending.ids[i] for i in keep]
        pending.texts = [pending.texts[i] for i in keep]
        pending.payloads = [pending.payloads[i] for i in keep]

    def _put_records(self, run: _Run, records: Sequence[SourceRecord]) -> None:
        if records:
            self._materialise()
        self.store.sources.put(records)
        run.records.update((r.source, r) for r in records)

    def _queue(
        self, source: str, first_index: int, chunks: list[tuple[str, Provenance, str]], run: _Run
    ) -> bool:
        """Queue the chunks of ``source`` from ``first_index`` that are new or changed."""
        if not chunks:
            return False
        ids = [point_id(source, first_index + i) for i in range(len(chunks))]
        stored = {} if self._fresh else self.store.existing_hashes(ids)
        queued = False
        for offset, (pid, (text, where, header)) in enumerate(zip(ids, chunks, strict=True)):
            digest = chunk_digest(text, where, header)
            if stored.get(pid) == digest:
                run.report.unchanged += 1
                continue
            run.pending.ids.append(pid)
            run.pending.texts.append(header + text)  # what is embedded; the payload keeps the text
            run.pending.payloads.append(chunk_payload(source, first_index + offset, text, digest, where))
            queued = True
            if len(run.pending.ids) >= self.batch_size:
                self._flush(run)
        return queued

    def _delete_leftovers(self, source: str, count: int) -> bool:
        """Delete the chunks of ``source`` from index ``count`` on (a longer earlier version's)."""
        # The stored chunks of a source are always a prefix 0..m-1 (batches are written in index
        # order and stale chunks are deleted as a suffix), so leftovers start at index `count`.
        # Probing a window of those ids finds them by id: a filtered delete is a full scan per
        # file in embedded Qdrant.
        if self._fresh:
            return False
        tail = [point_id(source, count + i) for i in range(LEFTOVER_WINDOW)]
        stored = self.store.existing_hashes(tail)
        leftovers = [pid for pid in tail if pid in stored]
        if leftovers:
            self.store.delete_ids(leftovers)
        if tail[-1] in stored:  # more than the window: delete the rest by filter
            self.store.delete_source_from(source, count + LEFTOVER_WINDOW)
        return bool(leftovers)

    def _flush(self, run: _Run) -> None:
        pending = run.pending
        if not pending.ids:
            return
        # Embedded first: a run whose first batch cannot be embedded has written nothing yet.
        dense = self.embedder.embed_documents(pending.texts)
        sparse = sparse_vectors(self.embedder.tokenizer, pending.texts)
        # A source's record is written before its first chunk (see .sources): mark new ones now.
        new = sorted({p[SOURCE] for p in pending.payloads} - run.records.keys())
        self._materialise()
        self._put_records(run, [SourceRecord(source, 0, None, complete=False) for source in new])
        self.store.upsert_chunks(pending.ids, pending.payloads, dense, sparse)
        self._put_records(run, pending.finished)
        count = len(pending.ids)
        run.report.embedded += count
        run.pending = _Pending()
        if run.bar is not None:
            run.bar.set_postfix(chunks=run.report.embedded + run.report.unchanged, refresh=False)
        if run.on_batch is not None:
            run.on_batch(count)


def chunk_digest(text: str, where: Provenance, header: str = "") -> str:
    """The hash that decides whether a stored chunk is current: its text, pages, headings, header.

    A chunk without provenance or header hashes its text alone, as collections made before them
    did, so plain-text files are not re-embedded; a renamed heading, a moved page or switching
    chunk headers rewrites the chunks concerned.
    """
    fields = where.to_payload()
    if not fields and not header:
        return content_hash(text)
    extra = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return content_hash(f"{text}\x00{extra}\x00{header}")


def _size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
