"""``Qwen3RagVectorStore``: a LangChain ``VectorStore`` writing and reading qwen3-rag collections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from qwen3_rag import InvalidOptionError
from qwen3_rag.pipeline import METADATA, FrameworkCollection, QdrantStore, StoredChunk, vector_space

RetrievalMode = Literal["dense", "hybrid"]


class Qwen3RagVectorStore(VectorStore):
    """A LangChain vector store over a qwen3-rag collection, on every engine qwen3-rag runs.

    What LangChain adds here is stored exactly as ``qwen3-rag ingest`` stores files: a document's
    id is its chunk's ``source`` (``chunk_index`` 0; LangChain documents come already split), its
    metadata goes under the payload key ``metadata`` and comes back unchanged, and each id has a
    record in the collection's source registry. So ``qwen3-rag sources`` lists these documents,
    ``qwen3-rag query`` searches them (with Qwen3 embeddings), and this store searches what
    ``qwen3-rag ingest`` wrote: such a document's id is its file's source and its metadata holds
    ``source`` and ``chunk_index`` (a file has many chunks; ``get_by_ids`` and ``delete`` take the
    source and act on all of them).

    Instantiate (any engine: a Qdrant Edge folder, ``":memory:"``, a server by URL):
        .. code-block:: python

            from langchain_qwen3_rag import Qwen3Embeddings, Qwen3RagVectorStore
            from qwen3_rag.pipeline import QdrantStore

            embeddings = Qwen3Embeddings(model="Qwen/Qwen3-Embedding-0.6B")
            vectors = Qwen3RagVectorStore(QdrantStore("kb"), embeddings, retrieval_mode="hybrid")
            vectors.add_documents(docs, ids=[...])            # or await vectors.aadd_documents(...)
            vectors.similarity_search("rotate the API key", k=5, filter={"team": "ops"})

    ``filter`` is a mapping on metadata fields (``{"team": "ops"}``, ``{"team": ["ops", "dev"]}``,
    ``{"year": {"gte": 2020}}``; ``source``, ``chunk_index``, ``tenant`` name the chunk fields) or
    a ``qdrant_client.models.Filter`` on payload paths (``metadata.team``).

    ``tenant`` keeps this store to one tenant's documents (Qdrant's multitenancy: one collection,
    a tenant index): what it writes carries the tenant, what it searches, gets and deletes is that
    tenant's alone, and two tenants' documents with the same id are two documents.

    The collection records the vector space that made it, and refuses any other. With
    ``Qwen3Embeddings`` that is its model, weights fingerprint and dimensions (as ``ingest``
    records them); with any other ``Embeddings`` it is that class (and its ``model`` or
    ``model_name`` when it has one) and the size of its vectors: enough to refuse another
    model's vectors, not two versions of one. Hybrid search needs the Qwen3 tokenizer's sparse
    vectors, so it takes ``Qwen3Embeddings``; other embeddings search dense only.
    """

    def __init__(
        self,
        store: QdrantStore,
        embedding: Embeddings,
        *,
        retrieval_mode: RetrievalMode = "dense",
        tenant: str | None = None,
    ) -> None:
        if retrieval_mode not in ("dense", "hybrid"):
            raise InvalidOptionError(f"retrieval_mode must be 'dense' or 'hybrid', got {retrieval_mode!r}.")
        self.store = store
        self.embedding = embedding
        spec, tokenizer = vector_space(embedding)
        if retrieval_mode == "hybrid" and tokenizer is None:
            raise InvalidOptionError(
                f"retrieval_mode='hybrid' needs Qwen3 embeddings (their tokenizer makes the sparse vectors); "
                f"{type(embedding).__name__} can search dense only."
            )
        self.retrieval_mode = retrieval_mode
        self.collection = FrameworkCollection(store, spec=spec, tokenizer=tokenizer, tenant=tenant)

    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    # ------------------------------------------------------------------ writes
    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[str]:
        """Embed and store ``texts`` (``ids=``: their document ids; new UUIDs for the others)."""
        items = self._items(texts, metadatas, kwargs.get("ids"))
        vectors = self.embedding.embed_documents([text for _, text, _ in items]) if items else []
        self._write(items, vectors)
        return [doc_id for doc_id, _, _ in items]

    async def aadd_texts(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[str]:
        """:meth:`add_texts` with native async embedding (the micro-batcher for Qwen3 models)."""
        items = self._items(texts, metadatas, kwargs.get("ids"))
        vectors = await self.embedding.aembed_documents([text for _, text, _ in items]) if items else []
        await asyncio.to_thread(self._write, items, vectors)
        return [doc_id for doc_id, _, _ in items]

    def _items(
        self, texts: Iterable[str], metadatas: list[dict[str, Any]] | None, ids: Sequence[str | None] | None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """``(id, text, metadata)`` per text, all checked before any is embedded or written."""
        items = _items(texts, metadatas, ids)
        checked = self.collection.check([i for i, _, _ in items], [m for _, _, m in items])
        return [(doc_id, text, metadata) for (doc_id, text, _), metadata in zip(items, checked, strict=True)]

    def _write(
        self, items: list[tuple[str, str, dict[str, Any]]], vectors: Sequence[Sequence[float]]
    ) -> None:
        for (doc_id, text, metadata), vector in zip(items, vectors, strict=True):
            self.collection.write(doc_id, [text], [vector], [metadata])

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete these documents (every chunk of each id); ids that are not stored are ignored."""
        if ids is None:
            raise InvalidOptionError("delete() needs the ids to delete (deleting everything is not offered).")
        self.collection.remove(ids)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    # ------------------------------------------------------------------ reads
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [_document(chunk) for chunk in self.collection.chunks(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return await asyncio.to_thread(self.get_by_ids, ids)

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, **kwargs)]

    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents and scores (cosine; the RRF score in hybrid mode), best first."""
        vector = self.embedding.embed_query(query)
        return self._search(vector, k, query, **kwargs)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        vector = await self.embedding.aembed_query(query)
        return await asyncio.to_thread(self._search, vector, k, query, **kwargs)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Dense search by a query vector (hybrid needs the query text: use :meth:`similarity_search`)."""
        return [doc for doc, _ in self._search(embedding, k, None, **kwargs)]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        found = await asyncio.to_thread(self._search, embedding, k, None, **kwargs)
        return [doc for doc, _ in found]

    def _search(
        self, vector: Sequence[float], k: int, query: str | None, *, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hybrid = self.retrieval_mode == "hybrid" and query is not None
        chunks = self.collection.search(vector, limit=k, query_text=query if hybrid else None, where=filter)
        return [(_document(chunk), float(chunk.score or 0.0)) for chunk in chunks]

    def _select_relevance_score_fn(self) -> Any:
        return self._cosine_relevance_score_fn

    @staticmethod
    def _cosine_relevance_score_fn(similarity: float) -> float:
        """Qdrant returns the cosine similarity itself (not a distance): map [-1, 1] to [0, 1]."""
        return (similarity + 1.0) / 2.0

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        store: QdrantStore | None = None,
        retrieval_mode: RetrievalMode = "dense",
        **kwargs: Any,
    ) -> Qwen3RagVectorStore:
        """A store over ``store`` (default: ``QdrantStore()``, the default embedded folder) with ``texts``."""
        vectors = cls(
            store if store is not None else QdrantStore(**kwargs), embedding, retrieval_mode=retrieval_mode
        )
        vectors.add_texts(texts, metadatas, ids=list(ids) if ids is not None else None)
        return vectors


def _items(
    texts: Iterable[str], metadatas: list[dict[str, Any]] | None, ids: Sequence[str | None] | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, text, metadata)`` per text; a missing id is a new UUID (as LangChain's stores do)."""
    texts = list(texts)
    metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
    given = list(ids) if ids is not None else [None] * len(texts)
    if not len(texts) == len(metadatas) == len(given):
        raise InvalidOptionError(
            f"Got {len(texts)} texts, {len(metadatas)} metadatas and {len(given)} ids: "
            "give one of each per text."
        )
    items = []
    for text, metadata, doc_id in zip(texts, metadatas, given, strict=True):
        name = doc_id if doc_id else str(uuid.uuid4())
        items.append((name, text, metadata or {}))
    return items


def _document(chunk: StoredChunk) -> Document:
    """A stored chunk as LangChain's ``Document``: what was added, or a file's chunk with where it is."""
    if METADATA in chunk.payload:
        metadata = dict(chunk.metadata)
    else:  # a chunk of a file from `qwen3-rag ingest`: which file, which chunk, where in it
        metadata = {"source": chunk.source, "chunk_index": chunk.chunk_index, **chunk.provenance}
    return Document(id=chunk.source, page_content=chunk.text, metadata=metadata)
