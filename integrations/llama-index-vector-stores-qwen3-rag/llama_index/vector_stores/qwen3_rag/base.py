"""``Qwen3RagVectorStore``: a LlamaIndex vector store writing and reading qwen3-rag collections."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from qdrant_client import models

from qwen3_rag import InvalidOptionError
from qwen3_rag.pipeline import FrameworkCollection, QdrantStore, StoredChunk, vector_space

from .filters import to_qdrant_filter

_NODE_ID = "node_id"
_METADATA = "metadata"


class Qwen3RagVectorStore(BasePydanticVectorStore):
    """A LlamaIndex vector store over a qwen3-rag collection, on every engine qwen3-rag runs.

    Nodes are stored exactly as ``qwen3-rag ingest`` stores files: a node's document
    (``ref_doc_id``, else the node itself) is the chunk's ``source``, its nodes are that source's
    chunks (``chunk_index`` in the order they were added), its metadata goes under the payload key
    ``metadata`` and comes back unchanged, its node id is kept beside it, and each document has a
    record in the collection's source registry. So ``qwen3-rag sources`` lists the documents,
    ``qwen3-rag query`` searches them, ``delete(ref_doc_id)`` removes every node of one, and this
    store reads what ``qwen3-rag ingest`` wrote (a file's chunk comes back as a node with
    ``source``, ``chunk_index`` and where it is in its file as metadata, its point id as node id).

    .. code-block:: python

        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.embeddings.qwen3_rag import Qwen3Embedding
        from llama_index.vector_stores.qwen3_rag import Qwen3RagVectorStore
        from qwen3_rag.pipeline import QdrantStore

        embed_model = Qwen3Embedding(model_name="Qwen/Qwen3-Embedding-0.6B")
        vector_store = Qwen3RagVectorStore(QdrantStore("kb"), embed_model=embed_model)
        index = VectorStoreIndex.from_documents(
            documents, storage_context=StorageContext.from_defaults(vector_store=vector_store),
            embed_model=embed_model,
        )

    ``embed_model`` is the model that makes the nodes' vectors: the collection records its
    vector space (with ``Qwen3Embedding``, its model, weights fingerprint and dimensions, as
    ``ingest`` does; with another embedding, its class and ``model_name`` and the vectors' size)
    and refuses any other. Query modes: ``default`` (dense), ``hybrid`` (dense and the Qwen3
    tokenizer's sparse terms fused by reciprocal rank fusion in Qdrant; ``alpha`` does not apply)
    and ``sparse``; the last two need ``Qwen3Embedding``. ``MetadataFilters`` (``==``, ``!=``,
    ``in``, ``nin``, ``>``, ``<``, ``>=``, ``<=``; and, or, not, nested), ``doc_ids`` and
    ``node_ids`` filter; ``query(..., qdrant_filters=Filter)`` takes a qdrant-client filter on
    payload paths (``metadata.team``) instead. ``tenant`` keeps the store to one tenant's nodes
    (Qdrant's multitenancy: one collection, a tenant index).
    """

    stores_text: bool = True
    flat_metadata: bool = False

    _collection: FrameworkCollection = PrivateAttr()
    _store: QdrantStore = PrivateAttr()

    def __init__(
        self, store: QdrantStore, *, embed_model: Any, tenant: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if embed_model is None:
            raise InvalidOptionError(
                "Qwen3RagVectorStore needs embed_model=, the embedding model that makes the nodes' vectors "
                "(the collection records it and refuses vectors of any other)."
            )
        spec, tokenizer = vector_space(embed_model, name_attributes=("model_name",))
        self._store = store
        self._collection = FrameworkCollection(store, spec=spec, tokenizer=tokenizer, tenant=tenant)

    @classmethod
    def class_name(cls) -> str:
        return "Qwen3RagVectorStore"

    @property
    def client(self) -> Any:
        """The ``qwen3_rag.pipeline.QdrantStore`` holding the collection."""
        return self._store

    # ------------------------------------------------------------------ writes
    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Store nodes with their embeddings; a node id stored before is overwritten in place."""
        self._collection.check([n.ref_doc_id or n.node_id for n in nodes], [n.metadata for n in nodes])
        by_source: dict[str, list[BaseNode]] = {}
        for node in nodes:
            if node.embedding is None:
                raise InvalidOptionError(
                    f"Node {node.node_id!r} has no embedding: embed nodes before adding them "
                    "(VectorStoreIndex and IngestionPipeline with an embed_model do)."
                )
            by_source.setdefault(node.ref_doc_id or node.node_id, []).append(node)
        for source, group in by_source.items():
            self._write(source, group)
        return [node.node_id for node in nodes]

    def _write(self, source: str, nodes: list[BaseNode]) -> None:
        stored = {c.payload.get(_NODE_ID): c.chunk_index for c in self._collection.chunks([source])}
        following = max(stored.values(), default=-1) + 1
        indexes = []
        for node in nodes:
            index = stored.get(node.node_id)
            if index is None:
                index, following = following, following + 1
            indexes.append(index)
        self._collection.write(
            source,
            [node.get_content() for node in nodes],
            [node.get_embedding() for node in nodes],
            [node.metadata for node in nodes],
            indexes=indexes,
            extra=[{_NODE_ID: node.node_id} for node in nodes],
            replace=False,
        )

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the document ``ref_doc_id`` (nothing when it is not stored)."""
        self._collection.remove([ref_doc_id])

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    # ------------------------------------------------------------------ reads
    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        where = kwargs.get("qdrant_filters") or _query_filter(query)
        mode = query.mode
        if mode == VectorStoreQueryMode.DEFAULT:
            chunks = self._collection.search(_dense(query), limit=query.similarity_top_k, where=where)
        elif mode == VectorStoreQueryMode.HYBRID:
            limit = query.hybrid_top_k or query.similarity_top_k
            chunks = self._collection.search(_dense(query), limit=limit, query_text=_text(query), where=where)
        elif mode == VectorStoreQueryMode.SPARSE:
            limit = query.sparse_top_k or query.similarity_top_k
            chunks = self._collection.search(None, limit=limit, query_text=_text(query), where=where)
        else:
            raise InvalidOptionError(
                f"Query mode {mode.value!r} is not supported by Qwen3RagVectorStore: "
                "use default, hybrid or sparse."
            )
        nodes = [_node(chunk) for chunk in chunks]
        return VectorStoreQueryResult(
            nodes=nodes,
            similarities=[float(chunk.score or 0.0) for chunk in chunks],
            ids=[node.node_id for node in nodes],
        )

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return await asyncio.to_thread(self.query, query, **kwargs)


def _dense(query: VectorStoreQuery) -> list[float]:
    if query.query_embedding is None:
        raise InvalidOptionError("This query mode needs query_embedding (the retriever embeds the query).")
    return list(query.query_embedding)


def _text(query: VectorStoreQuery) -> str:
    if not query.query_str:
        raise InvalidOptionError(f"Query mode {query.mode.value!r} needs query_str (its sparse terms).")
    return query.query_str


def _query_filter(query: VectorStoreQuery) -> models.Filter | None:
    must: list[Any] = []
    if query.doc_ids:
        must.append(models.FieldCondition(key="source", match=models.MatchAny(any=list(query.doc_ids))))
    if query.node_ids:
        must.append(models.FieldCondition(key=_NODE_ID, match=models.MatchAny(any=list(query.node_ids))))
    metadata = to_qdrant_filter(query.filters)
    if metadata is not None:
        must.append(metadata)
    return models.Filter(must=must) if must else None


def _node(chunk: StoredChunk) -> TextNode:
    """A stored chunk as a ``TextNode``: what was added, or a file's chunk with where it is."""
    if _METADATA in chunk.payload:
        metadata = dict(chunk.metadata)
    else:  # a chunk of a file from `qwen3-rag ingest`
        metadata = {"source": chunk.source, "chunk_index": chunk.chunk_index, **chunk.provenance}
    node_id = chunk.payload.get(_NODE_ID) or chunk.id
    return TextNode(
        id_=str(node_id),
        text=chunk.text,
        metadata=metadata,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.source)},
    )
