"""``Qwen3RagQdrantVectorStore``: ``langchain_qdrant.QdrantVectorStore`` on a qwen3-rag collection."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore, RetrievalMode, SparseEmbeddings

from qwen3_rag.pipeline import DEFAULT_COLLECTION, DENSE_VECTOR, SPARSE_VECTOR, TEXT

from .sparse import Qwen3SparseEmbeddings


class Qwen3RagQdrantVectorStore(QdrantVectorStore):
    """``langchain_qdrant.QdrantVectorStore`` reading a collection written by ``qwen3-rag ingest``.

    The plain ``QdrantVectorStore`` reads such a collection too (see ``docs/frameworks-qdrant.md``),
    but takes a document's metadata from one nested payload key, and a qwen3-rag payload is flat
    (``text``, ``source``, ``chunk_index``, ``content_hash``). This subclass changes only that:
    when the point has no ``metadata_payload_key`` object, the metadata is every payload field
    but the text, so documents carry ``source``, ``chunk_index`` and ``content_hash`` (plus the
    store's own ``_id`` and ``_collection_name``). Everything else (search, retrieval modes,
    filters as ``qdrant_client.models.Filter`` on ``source``, MMR, ``as_retriever``) is
    ``QdrantVectorStore``'s.

    Instantiate with the vector names and text key filled in:
        .. code-block:: python

            from langchain_qdrant import RetrievalMode
            from langchain_qwen3_rag import Qwen3Embeddings, Qwen3RagQdrantVectorStore
            from qwen3_rag.pipeline import QdrantStore

            store = QdrantStore("qwen3_rag")        # or a QdrantClient and collection_name=
            embeddings = Qwen3Embeddings(model="Qwen/Qwen3-Embedding-0.6B", dimensions=...)
            vectors = Qwen3RagQdrantVectorStore.from_collection(
                store, embedding=embeddings, retrieval_mode=RetrievalMode.HYBRID
            )
            docs = vectors.similarity_search("How do I rotate the API key?", k=5)

    Write with ``qwen3-rag ingest`` or :class:`~langchain_qwen3_rag.Qwen3RagVectorStore` (they keep
    point ids, content hashes and the source registry); ``add_texts`` here would store LangChain's
    layout beside it.
    """

    @classmethod
    def from_collection(
        cls,
        store: Any,
        collection_name: str | None = None,
        *,
        embedding: Embeddings | None = None,
        sparse_embedding: SparseEmbeddings | None = None,
        retrieval_mode: RetrievalMode = RetrievalMode.DENSE,
        **kwargs: Any,
    ) -> Qwen3RagQdrantVectorStore:
        """The store over a qwen3-rag collection.

        ``store`` is a ``qwen3_rag.pipeline.QdrantStore`` (its client and collection) or a
        ``QdrantClient`` (with ``collection_name``, default ``"qwen3_rag"``). ``embedding`` must
        make the collection's vectors (its model at its dimensions). Sparse and hybrid modes
        without ``sparse_embedding`` use :class:`Qwen3SparseEmbeddings` on ``embedding``'s
        tokenizer. ``kwargs`` go to ``QdrantVectorStore``.
        """
        # A QdrantStore on a Qdrant Edge folder has no client: its AttributeError says what to use.
        client = store.client if hasattr(type(store), "client") else store
        name = collection_name or getattr(store, "collection", None) or DEFAULT_COLLECTION
        if sparse_embedding is None and retrieval_mode != RetrievalMode.DENSE and embedding is not None:
            sparse_embedding = Qwen3SparseEmbeddings(model=embedding)
        options: dict[str, Any] = {
            "vector_name": DENSE_VECTOR,
            "sparse_vector_name": SPARSE_VECTOR,
            "content_payload_key": TEXT,
            **kwargs,
        }
        return cls(
            client=client,
            collection_name=name,
            embedding=embedding,
            sparse_embedding=sparse_embedding,
            retrieval_mode=retrieval_mode,
            **options,
        )

    @classmethod
    def _document_from_point(
        cls,
        scored_point: Any,
        collection_name: str,
        content_payload_key: str,
        metadata_payload_key: str,
    ) -> Document:
        payload = dict(scored_point.payload or {})
        nested = payload.get(metadata_payload_key)
        if isinstance(nested, dict):
            metadata = dict(nested)
        else:  # a flat qwen3-rag payload: every field but the text
            metadata = {k: v for k, v in payload.items() if k != content_payload_key}
        metadata["_id"] = scored_point.id
        metadata["_collection_name"] = collection_name
        return Document(page_content=payload.get(content_payload_key, ""), metadata=metadata)
