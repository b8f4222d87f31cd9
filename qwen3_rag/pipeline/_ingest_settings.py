"""What an ingestion reports, and the chunking settings it follows (as the collection recorded them)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._wording import plural
from ._chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from ._layout import content_hash
from ._loaders import SkippedFile
from ._provenance import Provenance

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._loaders import Document
    from ._store import QdrantStore

CHUNK_HEADERS_OPTION = "chunk_headers"  # recorded in the collection beside the chunk sizes


@dataclass
class IngestReport:
    """What an ingestion did; ``skipped`` lists the files that could not be read, with why."""

    files: int = 0
    documents: int = 0
    """Documents given by id (:meth:`Ingestor.ingest_documents`, :meth:`Ingestor.write_chunks`)."""
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    removed_files: int = 0
    """Sources under the given folders whose files are gone, removed from the collection."""
    removed_chunks: int = 0
    removed_documents: int = 0
    """Documents under ``remove_missing_under`` that were not given, removed from the collection."""

    def summary(self) -> str:
        counted = [plural(self.files, "file")] if self.files or not self.documents else []
        if self.documents:
            counted.append(plural(self.documents, "document"))
        text = (
            f"{', '.join(counted)}, {plural(self.chunks, 'chunk')}: {self.embedded} embedded, "
            f"{self.unchanged} unchanged"
        )
        removed = [
            plural(n, what)
            for n, what in ((self.removed_files, "file"), (self.removed_documents, "document"))
            if n
        ]
        if removed:
            text += f"; removed {', '.join(removed)}, {plural(self.removed_chunks, 'chunk')}"
        if self.skipped:
            text += f"; skipped {plural(len(self.skipped), 'file')} that could not be read as text"
        return text


def byte_progress_bar(total_bytes: int, **options: Any) -> Any:
    """Ingest's progress bar. Bytes, not files: one huge file moves the bar too; the unit on both
    counts ("15.7kB/15.7kB"), where tqdm's default shows it on the rate only."""
    from tqdm.auto import tqdm

    shape = "{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}]"
    return tqdm(total=total_bytes, unit="B", unit_scale=True, desc="ingest", bar_format=shape, **options)


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


def chunk_digest(
    text: str, where: Provenance, header: str = "", metadata: Mapping[str, Any] | None = None
) -> str:
    """The hash that decides whether a stored chunk is current: its text, pages, headings, header,
    and the user's metadata.

    A chunk without provenance, header or metadata hashes its text alone, as collections made before
    them did, so plain-text files are not re-embedded; a renamed heading, a moved page, switching
    chunk headers or edited metadata rewrites the chunks concerned.
    """
    fields = where.to_payload()
    if not fields and not header and not metadata:
        return content_hash(text)
    extra = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    if not metadata:  # as before metadata existed: files keep their hashes
        return content_hash(f"{text}\x00{extra}\x00{header}")
    tags = json.dumps(metadata, sort_keys=True, ensure_ascii=False)
    return content_hash(f"{text}\x00{extra}\x00{header}\x00{tags}")
