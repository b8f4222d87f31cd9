"""Ingestion: files -> chunks -> vectors -> Qdrant, idempotent and resumable.

Every chunk's point id is ``uuid5(source, chunk_index)``, and its payload carries a hash of its
text. So, for each file:

- chunks whose id is stored with the same hash are skipped (re-ingesting changes nothing);
- new or changed chunks are embedded and upserted in batches, overwriting their old point;
- chunks of that file with an index past the new chunk count are deleted (an edited file
  leaves nothing behind).

Nothing depends on what an earlier run did or did not finish, which is why a run interrupted
at any point and run again ends identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidOptionError
from ..runtime.validation import check_positive_int
from .chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from .loaders import Document, SkippedFile, find_files, iter_documents
from .sparse import sparse_vectors
from .store import DENSE_VECTOR, SPARSE_VECTOR, EmbeddingSpec, QdrantStore

logger = logging.getLogger(__name__)

# Fixed forever: changing it would change every point id and orphan existing collections.
POINT_NAMESPACE = uuid.UUID("6f1c3b1e-5d0a-5b8e-9a57-2c7e3f0b9d41")
DEFAULT_BATCH_SIZE = 64
LEFTOVER_WINDOW = 64


def point_id(source: str, chunk_index: int) -> str:
    """The deterministic id of chunk ``chunk_index`` of ``source``."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{source}\x00{chunk_index}"))


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class IngestReport:
    """What an ingestion did; ``skipped`` lists the files that could not be read, with why."""

    files: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.files} files, {self.chunks} chunks: {self.embedded} embedded, {self.unchanged} unchanged"
        )
        if self.skipped:
            text += f"; skipped {len(self.skipped)} file(s) that could not be read as text"
        return text


@dataclass
class _Pending:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


class Ingestor:
    """Put files into a :class:`QdrantStore` with a :class:`~qwen3_rag.Qwen3Embedder`.

    >>> ingestor = Ingestor(store, embedder, chunk_tokens=512, overlap=64)
    >>> report = ingestor.ingest(["./docs"])
    >>> print(report.summary())

    ``progress=None`` shows a progress bar only when stderr is a terminal.
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
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap
        if chunk_tokens is not None and (
            isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, int) or chunk_tokens < 1
        ):  # 0 must not fall back to the default below
            raise InvalidOptionError(f"chunk_tokens must be a positive integer, got {chunk_tokens!r}.")
        if chunk_tokens is not None and overlap is not None:
            TokenChunker(embedder.tokenizer, chunk_tokens=chunk_tokens, overlap=overlap)  # validate now
        self.chunker: TokenChunker | None = None
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.progress = progress
        self.spec = EmbeddingSpec.for_embedder(embedder)

    def ingest(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Ingest every file under ``paths``; ``on_batch(n)`` runs after each upserted batch."""
        self.store.ensure(self.spec)
        self.chunker = self._chunker()
        files, missing = find_files(paths)
        for item in missing:
            logger.warning("qwen3-rag: skipped %s: %s", item.path, item.reason)
        report = IngestReport(skipped=list(missing))
        pending = _Pending()
        bar = self._bar(len(files))
        try:
            for loaded in iter_documents(files):
                if isinstance(loaded, SkippedFile):
                    report.skipped.append(loaded)
                else:
                    self._add_document(loaded, pending, report, on_batch)
                if bar is not None:
                    bar.update(1)
            self._flush(pending, report, on_batch)
        finally:
            if bar is not None:
                bar.close()
        if report.skipped:
            logger.warning(
                "qwen3-rag: skipped %d file(s): %s",
                len(report.skipped),
                ", ".join(s.path for s in report.skipped),
            )
        return report

    def _chunker(self) -> TokenChunker:
        """Chunk sizes: as given, else as the collection last used, else the defaults.

        Following the collection keeps a plain re-run a no-op: other sizes would re-cut and
        re-embed every file.
        """
        recorded = self.store.read_chunking()
        tokens = self.chunk_tokens or (recorded[0] if recorded else DEFAULT_CHUNK_TOKENS)
        if self.overlap is not None:
            overlap = self.overlap
        elif recorded and self.chunk_tokens in (None, recorded[0]):
            overlap = recorded[1]
        else:
            overlap = min(DEFAULT_CHUNK_OVERLAP, tokens // 4)
        chunker = TokenChunker(self.embedder.tokenizer, chunk_tokens=tokens, overlap=overlap)
        if recorded != (tokens, overlap):
            self.store.record_chunking(tokens, overlap)
        return chunker

    def _bar(self, total: int) -> Any:
        if not _show_progress(self.progress):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, unit="file", desc="ingest")

    def _add_document(
        self, doc: Document, pending: _Pending, report: IngestReport, on_batch: Callable[[int], None] | None
    ) -> None:
        assert self.chunker is not None
        chunks = self.chunker.split(doc.text)
        ids = [point_id(doc.source, i) for i in range(len(chunks))]
        # The stored chunks of a source are always a prefix 0..m-1 (batches are written in index
        # order and stale chunks are deleted as a suffix), so leftovers of a longer earlier version
        # start at index len(chunks). Probing a window of those ids in the same request finds them
        # by id: a filtered delete is a full scan per file in embedded Qdrant.
        tail = [point_id(doc.source, len(chunks) + i) for i in range(LEFTOVER_WINDOW)]
        stored = self.store.existing_hashes([*ids, *tail])
        report.files += 1
        report.chunks += len(chunks)
        for index, (pid, text) in enumerate(zip(ids, chunks, strict=True)):
            digest = content_hash(text)
            if stored.get(pid) == digest:
                report.unchanged += 1
                continue
            pending.ids.append(pid)
            pending.texts.append(text)
            pending.payloads.append(
                {"text": text, "source": doc.source, "chunk_index": index, "content_hash": digest}
            )
            if len(pending.ids) >= self.batch_size:
                self._flush(pending, report, on_batch)
        leftovers = [pid for pid in tail if pid in stored]
        if leftovers:
            self.store.delete_ids(leftovers)
        if tail[-1] in stored:  # more than the window: delete the rest by filter
            self.store.delete_source_from(doc.source, len(chunks) + LEFTOVER_WINDOW)

    def _flush(self, pending: _Pending, report: IngestReport, on_batch: Callable[[int], None] | None) -> None:
        if not pending.ids:
            return
        from qdrant_client import models

        dense = self.embedder.embed_documents(pending.texts)
        sparse = sparse_vectors(self.embedder.tokenizer, pending.texts)
        points = [
            models.PointStruct(
                id=pid, vector={DENSE_VECTOR: vec.tolist(), SPARSE_VECTOR: sp}, payload=payload
            )
            for pid, vec, sp, payload in zip(pending.ids, dense, sparse, pending.payloads, strict=True)
        ]
        self.store.upsert(points)
        report.embedded += len(points)
        count = len(points)
        pending.ids.clear()
        pending.texts.clear()
        pending.payloads.clear()
        if on_batch is not None:
            on_batch(count)
