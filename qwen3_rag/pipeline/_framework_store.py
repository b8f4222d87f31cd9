"""What the frameworks' vector stores share: chunks a framework split and embedded, in our layout.

LangChain and LlamaIndex hand a vector store texts they have already split and vectors they have
already computed. :class:`FrameworkCollection` writes those into a qwen3-rag collection exactly as
``qwen3-rag ingest`` writes files (:mod:`._layout`): the framework's document id is the chunk's
``source``, each piece is a chunk (``chunk_index`` 0, 1, ...), the user's metadata goes under the
payload key ``metadata``, sparse vectors come from the embedding model's tokenizer, and every
source has its record in the registry, written before its chunks and completed after them
(:mod:`._sources`), so ``qwen3-rag sources``, ``query`` and ``remove`` work on what a framework
wrote, and the frameworks read what ``ingest`` wrote.

The collection's :class:`~._store.EmbeddingSpec` guards its vector space as everywhere: a
collection is created for the spec of the first writer and refuses any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import InvalidOptionError
from ._filters import Where
from ._layout import (
    CHUNK_INDEX,
    METADATA,
    SOURCE,
    TENANT,
    TEXT,
    Hit,
    chunk_payload,
    chunk_point_id,
    source_key,
)
from ._provenance import HEADINGS, PAGE_END, PAGE_START, Provenance
from ._source_documents import check_metadata, check_name, check_tenant
from ._sources import DOCUMENT, SourceRecord, now_utc, record_id
from ._sparse import sparse_vectors
from ._store import EmbeddingSpec, QdrantStore

NODE_ID = "node_id"
"""The payload key of a framework's own id for one chunk (LlamaIndex's node id), when it has one."""


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as a framework reads it back: its source, index, text, metadata and extra keys."""

    id: str
    """The point id."""
    source: str
    chunk_index: int
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    score: float | None = None

    @classmethod
    def from_payload(cls, id: str, payload: Mapping[str, Any], score: float | None = None) -> StoredChunk:
        metadata = payload.get(METADATA)
        return cls(
            id=id,
            source=str(payload.get(SOURCE, "")),
            chunk_index=int(payload.get(CHUNK_INDEX, 0)),
            text=str(payload.get(TEXT, "")),
            metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
            payload=dict(payload),
            score=score,
        )

    @classmethod
    def from_hit(cls, hit: Hit) -> StoredChunk:
        return cls.from_payload(hit.id, hit.payload, hit.score)

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the chunk is in its file (``page_start``, ``page_end``, ``headings``), when known."""
        return Provenance.from_payload(self.payload).to_payload()


def vector_space(
    embeddings: Any, *, name_attributes: Sequence[str] = ("model", "model_name")
) -> tuple[EmbeddingSpec, Any]:
    """The spec a framework's ``embeddings`` object records, and its tokenizer (``None`` if not Qwen3).

    qwen3-rag's adapters expose their ``Qwen3Embedder`` as ``.embedder``: its spec is the one
    ``ingest`` records (model, weights fingerprint, dimensions). Any other embeddings are known by
    their class and model name (the first of ``name_attributes`` they have), their size learned
    from their first vectors: enough to refuse another model's vectors, not two versions of one.
    """
    embedder = getattr(embeddings, "embedder", None)
    if embedder is not None and hasattr(embedder, "fingerprint") and hasattr(embedder, "tokenizer"):
        return EmbeddingSpec.for_embedder(embedder), embedder.tokenizer
    kind = f"{type(embeddings).__module__}.{type(embeddings).__qualname__}"
    names = [getattr(embeddings, attribute, None) for attribute in name_attributes]
    name = next((n for n in names if isinstance(n, str) and n), None)
    return EmbeddingSpec(f"{kind}/{name}" if name else kind, 0), None


class FrameworkCollection:
    """A :class:`QdrantStore` collection written and read by a framework's vector store.

    ``spec`` is the vector space of the framework's embeddings (dimensions 0: learned from the
    first vectors, see :meth:`bind`); ``tokenizer`` makes the sparse vectors (the embedding
    model's, for hybrid search; ``None`` writes none and refuses hybrid and sparse queries).
    ``tenant`` writes every chunk under that tenant and keeps every read to its chunks (Qdrant's
    multitenancy: one collection, a tenant index); ``None`` writes chunks without a tenant and
    reads all.
    """

    def __init__(
        self,
        store: QdrantStore,
        *,
        spec: EmbeddingSpec,
        tokenizer: Any = None,
        tenant: str | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.tokenizer = tokenizer
        self.tenant = check_tenant(tenant)
        self._checked = False
        self._tenant_indexed = False

    # ------------------------------------------------------------------ vector space
    def bind(self, dimensions: int) -> None:
        """Check (once) that vectors of ``dimensions`` belong in this collection; fill in the spec."""
        if self.spec.dimensions <= 0:
            self.spec = EmbeddingSpec(self.spec.model, dimensions, self.spec.fingerprint)
        elif self.spec.dimensions != dimensions:
            raise InvalidOptionError(
                f"The embeddings returned {dimensions}-dimensional vectors, but {self.spec.model!r} was "
                f"declared with {self.spec.dimensions}."
            )
        if not self._checked and self.store.exists():
            self.store.open(self.spec)  # a CollectionMismatchError names the collection's own model
            self._checked = True

    def exists(self) -> bool:
        return self.store.exists()

    # ------------------------------------------------------------------ writes
    @staticmethod
    def check(ids: Sequence[str], metadatas: Sequence[Mapping[str, Any] | None]) -> list[dict[str, Any]]:
        """Check every id and metadata before anything is written (one clear error naming the
        first bad one); the metadata as it will be stored."""
        for doc_id in ids:
            check_name(doc_id, "A document id")
        return [check_metadata(m or {}, f"metadata of {i!r}") for i, m in zip(ids, metadatas, strict=True)]

    def write(
        self,
        source: str,
        texts: Sequence[str],
        dense: Sequence[Sequence[float]],
        metadatas: Sequence[Mapping[str, Any] | None],
        *,
        indexes: Sequence[int] | None = None,
        extra: Sequence[Mapping[str, Any]] | None = None,
        replace: bool = True,
    ) -> None:
        """Write ``texts`` as chunks of ``source`` (``indexes``, default 0, 1, ...) with their vectors.

        ``replace=True`` (the texts are the whole document) deletes the chunks of ``source`` past
        the last one written, so an edited, shorter document leaves nothing behind; ``False``
        adds to or overwrites chunks of a document written before. ``extra`` adds keys to each
        chunk's payload (a framework's own chunk id).
        """
        check_name(source, "A document id")
        indexes = list(indexes) if indexes is not None else list(range(len(texts)))
        if not len(texts) == len(dense) == len(metadatas) == len(indexes):
            raise InvalidOptionError(
                f"{len(texts)} texts, {len(dense)} vectors, {len(metadatas)} metadatas and "
                f"{len(indexes)} indexes for {source!r}: give one of each per chunk."
            )
        if not texts:
            return
        metadatas = [check_metadata(m or {}, f"metadata of {source!r}") for m in metadatas]
        self.bind(len(dense[0]))
        if not self.store.exists():
            self.store.ensure(self.spec)
            self._checked = True
        if self.tenant is not None and not self._tenant_indexed:
            self.store.index_fields({TENANT: "tenant"})
            self._tenant_indexed = True
        sparse = sparse_vectors(self.tokenizer, texts) if self.tokenizer is not None else [None] * len(texts)
        payloads = []
        for offset, (index, text) in enumerate(zip(indexes, texts, strict=True)):
            payload = chunk_payload(source, index, text, tenant=self.tenant)
            # present even when empty: it marks a chunk a framework wrote (a file's has none)
            payload[METADATA] = metadatas[offset]
            if extra is not None:
                payload.update(extra[offset])
            payloads.append(payload)
        known = self.records([source]).get(source)
        if known is None or known.complete:  # the record comes first (see .sources)
            self.store.sources.put([self._record(source, known.chunks if known else 0, None, complete=False)])
        ids = [chunk_point_id(source, i, self.tenant) for i in indexes]
        self.store.upsert_chunks(ids, payloads, dense, sparse)
        total = max(indexes) + 1
        if replace:
            if known is not None and known.chunks > total:
                self.store.delete_source_from(source, total, tenant=self.tenant)
        else:
            total = max(total, known.chunks if known is not None else 0)
        self.store.sources.put([self._record(source, total, now_utc())])

    def _record(self, source: str, chunks: int, stamp: str | None, complete: bool = True) -> SourceRecord:
        return SourceRecord(source, chunks, stamp, complete, tenant=self.tenant, kind=DOCUMENT)

    def remove(self, sources: Iterable[str]) -> int:
        """Delete every chunk of each source, then its record; how many sources were there."""
        wanted = list(dict.fromkeys(sources))
        if not wanted or not self.store.exists():
            return 0
        known = self.records(wanted)
        for source in wanted:
            if source in known:
                self.store.delete_source(source, tenant=self.tenant)
        self.store.sources.delete([known[s].key for s in wanted if s in known])
        return len(known)

    # ------------------------------------------------------------------ reads
    def records(self, sources: Sequence[str]) -> dict[str, SourceRecord]:
        """The registry records of those ``sources`` that have one."""
        if not sources or not self.store.sources.exists():
            return {}
        ids = [record_id(source_key(s, self.tenant)) for s in sources]
        points = self.store.engine.retrieve(self.store.sources.collection, ids, _RECORD_KEYS)
        records = [SourceRecord.from_payload(p.payload) for p in points]
        return {r.source: r for r in records}

    def chunks(self, sources: Sequence[str]) -> list[StoredChunk]:
        """Every chunk of each of ``sources`` (in that order, then by index); unknown ones give none."""
        if not sources or not self.store.exists():
            return []
        known = self.records(sources)
        wanted = [s for s in dict.fromkeys(sources) if s in known]
        ids = [chunk_point_id(s, i, self.tenant) for s in wanted for i in range(known[s].chunks)]
        if not ids:
            return []
        points = self.store.engine.retrieve(self.store.collection, ids, _READ_KEYS)
        by_id = {p.id: StoredChunk.from_payload(p.id, p.payload) for p in points}
        return [by_id[i] for i in ids if i in by_id]

    def search(
        self,
        dense: Sequence[float] | None,
        *,
        limit: int,
        query_text: str | None = None,
        where: Where = None,
    ) -> list[StoredChunk]:
        """Dense top-``limit``; with ``query_text``, fused with its sparse terms (hybrid);
        ``dense=None``: by the sparse terms of ``query_text`` alone (Qdrant IDF)."""
        if not self.store.exists():
            return []
        if dense is not None:
            self.bind(len(dense))
        sparse = None
        if query_text is not None:
            if self.tokenizer is None:
                raise InvalidOptionError(
                    "Hybrid and sparse search need the sparse vectors of a Qwen3 tokenizer: use Qwen3 "
                    "embeddings (qwen3-rag's adapters) with this store, or dense search."
                )
            sparse = sparse_vectors(self.tokenizer, [query_text], query=True)[0]
        elif dense is None:
            raise InvalidOptionError("A search needs a query vector, query text, or both.")
        hits = self.store.query(dense, limit=limit, sparse=sparse, query_filter=where, tenant=self.tenant)
        return [StoredChunk.from_hit(hit) for hit in hits]


_READ_KEYS = (TEXT, SOURCE, CHUNK_INDEX, METADATA, NODE_ID, PAGE_START, PAGE_END, HEADINGS, TENANT)
_RECORD_KEYS = ("source", "chunks", "ingested_at", "complete", "tenant", "kind")
