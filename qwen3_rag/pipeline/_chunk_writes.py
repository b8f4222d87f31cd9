"""Chunks a caller split (a framework's nodes), written as they are, and one source removed:
:meth:`~._ingest.Ingestor.write_chunks` and :meth:`~._ingest.Ingestor.remove`.

The chunks take the write path of every ingestion (:mod:`._ingest_writer`): same layout,
registry, hashes and crash safety as files and documents chunked here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from .._errors import InvalidOptionError
from ._ingest_settings import IngestReport
from ._ingest_writer import IngestWriter, Origin, Piece
from ._layout import source_key
from ._provenance import Provenance
from ._pruning import remove_sources
from ._source_documents import ChunkedDocument, check_tenant
from ._sources import DOCUMENT, SourceRecord


class ChunkWrites(IngestWriter):
    """:class:`~._ingest.Ingestor`'s calls for chunks split elsewhere and for removing a source."""

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
            origin = Origin(document.id, tenant, DOCUMENT, {}, tuple(fields))
            pieces = [
                Piece(
                    text, Provenance(), "", document.metadata_of(i), None if vectors is None else vectors[i]
                )
                for i, text in enumerate(document.chunks)
            ]
            self._write_pieces(iter(pieces), origin, run)
        self._flush(run)
        self._end()
        return run.report

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
