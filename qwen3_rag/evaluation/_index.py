"""Putting a BEIR corpus into a qwen3-rag collection, with the point layout of ``qwen3-rag ingest``.

A document is not a file, so the :class:`~qwen3_rag.pipeline.Ingestor` (which walks folders) is
not used; its building blocks are: the same :class:`~qwen3_rag.pipeline.TokenChunker` and chunk
sizes, and the collection layout of :mod:`qwen3_rag.pipeline._layout` (point ids, payload, dense
and sparse vectors written by ``QdrantStore.upsert_chunks``). So a kept collection reads like any other, with
``qwen3-rag query`` or either framework.

Each document's ``source`` is ``<corpus.jsonl, absolute>/<document id>``: ``qwen3-rag sources``
lists them and ``qwen3-rag remove DATA_DIR/corpus.jsonl`` removes them all. As with ingest,
re-running into a kept collection embeds only new or changed chunks, deletes what a shorter
document left behind and the documents gone from the corpus, and records each source before
its chunks and completes it after them.

Chunks are embedded concurrently through the shared micro-batcher, a few groups of documents at
a time, so tokenizing, forward passes and writes overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..pipeline._chunking import TokenChunker
from ..pipeline._layout import chunk_payload, content_hash, point_id
from ..pipeline._pruning import remove_sources, sources_under
from ..pipeline._sources import SourceRecord, as_source, now_utc
from ..pipeline._sparse import sparse_vectors
from ..pipeline._store import EmbeddingSpec, QdrantStore
from ._beir import CORPUS_FILE, BeirDataset

GROUP_CHUNKS = 256  # chunks per group of documents (one lookup, one embed request, one upsert)
GROUPS_IN_FLIGHT = 4


def corpus_root(dataset: BeirDataset) -> str:
    return as_source(dataset.root / CORPUS_FILE)


def source_of(root: str, doc_id: str) -> str:
    """The ``source`` stored with the chunks of document ``doc_id``."""
    return f"{root}/{doc_id}"


@dataclass
class IndexReport:
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    unchanged: int = 0
    removed_documents: int = 0
    seconds: float = 0.0


class CorpusIndexer:
    """Chunk, embed and write a corpus; ``store_lock`` serialises calls into an embedded store."""

    def __init__(
        self,
        store: QdrantStore,
        embedder: Any,
        chunker: TokenChunker,
        *,
        store_lock: asyncio.Semaphore,
        on_documents: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.chunker = chunker
        self.store_lock = store_lock
        self.on_documents = on_documents
        self.records: dict[str, SourceRecord] = {}
        self.report = IndexReport()

    async def _store(self, method: Callable[..., Any], *args: Any) -> Any:
        async with self.store_lock:
            return await asyncio.to_thread(method, *args)

    async def index(self, dataset: BeirDataset) -> IndexReport:
        self.store.ensure(EmbeddingSpec.for_embedder(self.embedder))
        root = corpus_root(dataset)
        self.records = {r.source: r for r in self.store.sources.all()}
        wanted = {source_of(root, d) for d in dataset.corpus}
        gone = [r for r in sources_under(self.records.values(), [root]) if r.source not in wanted]
        if gone:
            self.report.removed_documents, _ = await self._store(remove_sources, self.store, gone)
        groups = _groups(list(dataset.corpus.items()))
        in_flight = asyncio.Semaphore(GROUPS_IN_FLIGHT)

        async def one(group: list[tuple[str, str]]) -> None:
            async with in_flight:
                await self._group(root, group)

        await asyncio.gather(*(one(g) for g in groups))
        self.report.documents = len(dataset.corpus)
        return self.report

    async def _group(self, root: str, group: list[tuple[str, str]]) -> None:
        sources = [source_of(root, doc_id) for doc_id, _ in group]
        chunked = await asyncio.to_thread(lambda: [self.chunker.split(text) for _, text in group])
        ids = [point_id(s, i) for s, chunks in zip(sources, chunked, strict=True) for i in range(len(chunks))]
        stored: dict[str, str] = await self._store(self.store.existing_hashes, ids)
        texts: list[str] = []
        payloads: list[dict[str, Any]] = []
        pids: list[str] = []
        changed: set[str] = set()
        for source, chunks in zip(sources, chunked, strict=True):
            for index, text in enumerate(chunks):
                pid, digest = point_id(source, index), content_hash(text)
                if stored.get(pid) == digest:
                    continue
                changed.add(source)
                pids.append(pid)
                texts.append(text)
                payloads.append(chunk_payload(source, index, text, digest))
        counts = dict(zip(sources, (len(c) for c in chunked), strict=True))
        shrunk = [s for s in sources if s in self.records and self.records[s].chunks > counts[s]]
        new = [SourceRecord(s, 0, None, complete=False) for s in sorted(changed) if s not in self.records]
        if new:  # a source is recorded before its first chunk is written
            await self._store(self.store.sources.put, new)
        if pids:
            dense = await self.embedder.aembed_documents(texts)
            sparse = await asyncio.to_thread(sparse_vectors, self.embedder.tokenizer, texts)
            await self._store(self.store.upsert_chunks, pids, payloads, dense, sparse)
        for source in shrunk:
            await self._store(self.store.delete_source_from, source, counts[source])
        done = []
        for source in sources:
            old = self.records.get(source)
            if source in changed or source in shrunk or old is None:
                done.append(SourceRecord(source, counts[source], now_utc()))
            elif old.chunks != counts[source] or not old.complete:
                done.append(SourceRecord(source, counts[source], old.ingested_at))
        if done:
            await self._store(self.store.sources.put, done)
        self.report.chunks += len(ids)
        self.report.embedded += len(pids)
        self.report.unchanged += len(ids) - len(pids)
        if self.on_documents is not None:
            self.on_documents(len(group))


def _groups(items: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Whole documents in groups of about ``GROUP_CHUNKS`` chunks (estimated from characters)."""
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    size = 0
    for item in items:
        current.append(item)
        size += 1 + len(item[1]) // 2000  # ~4 characters a token, 512-token chunks
        if size >= GROUP_CHUNKS:
            groups.append(current)
            current, size = [], 0
    if current:
        groups.append(current)
    return groups
