"""Putting a BEIR corpus into a qwen3-rag collection: each corpus document is a
:class:`~qwen3_rag.pipeline.SourceDocument`, written by :meth:`~qwen3_rag.pipeline.Ingestor.ingest_documents`.

So a kept collection is like any other (``qwen3-rag query``, ``sources``, either framework), and
it has every guarantee of ingestion: re-running into a kept collection embeds only new or changed
chunks, deletes what a shorter document left behind and the documents gone from the corpus, and a
run killed part-way is completed by the next one.

Each document's id (its ``source``) is ``<corpus.jsonl, absolute>/<document id>``: ``qwen3-rag
sources`` lists them and ``qwen3-rag remove DATA_DIR/corpus.jsonl`` removes them all. Only public
pipeline names are used here (tests/test_eval.py checks it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..pipeline import Ingestor, IngestReport, QdrantStore, SourceDocument
from ._beir import CORPUS_FILE, BeirDataset

BATCH_CHUNKS = 256  # chunks per embedding request and upsert: large forward passes


def corpus_root(dataset: BeirDataset) -> str:
    """The corpus file as ingest stores paths (absolute, symlinks resolved, POSIX separators)."""
    return (dataset.root / CORPUS_FILE).expanduser().resolve().as_posix()


def source_of(root: str, doc_id: str) -> str:
    """The ``source`` (document id in the collection) of corpus document ``doc_id``."""
    return f"{root}/{doc_id}"


@dataclass
class IndexReport(IngestReport):
    """What indexing did (documents, chunks embedded, unchanged, removed), how long it took, and
    the chunk sizes it used."""

    seconds: float = 0.0
    chunk_tokens: int = 0
    chunk_overlap: int = 0


async def index_corpus(
    dataset: BeirDataset,
    store: QdrantStore,
    embedder: Any,
    *,
    chunk_tokens: int | None = None,
    chunk_overlap: int | None = None,
    on_document: Callable[[], None] | None = None,
) -> IndexReport:
    """Ingest ``dataset.corpus`` into ``store`` (in a thread: the event loop stays free), mirroring it:
    documents of this corpus that are gone from it are removed."""
    root = corpus_root(dataset)
    ingestor = Ingestor(
        store,
        embedder,
        chunk_tokens=chunk_tokens,
        overlap=chunk_overlap,
        batch_size=BATCH_CHUNKS,
        progress=False,
    )

    def documents() -> Iterator[SourceDocument]:
        for doc_id, text in dataset.corpus.items():
            yield SourceDocument(source_of(root, doc_id), text)
            if on_document is not None:
                on_document()

    started = time.perf_counter()
    done = await asyncio.to_thread(ingestor.ingest_documents, documents(), remove_missing_under=f"{root}/")
    assert ingestor.chunker is not None  # chosen by the run
    seconds = time.perf_counter() - started
    chunker = ingestor.chunker
    return IndexReport(
        **vars(done), seconds=seconds, chunk_tokens=chunker.chunk_tokens, chunk_overlap=chunker.overlap
    )
