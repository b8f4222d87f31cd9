"""``Qwen3SparseEmbeddings``: qwen3-rag's tokenizer sparse vectors for ``langchain_qdrant``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_qdrant import SparseEmbeddings
from langchain_qdrant.sparse_embeddings import SparseVector
from pydantic import BaseModel, ConfigDict, PrivateAttr

from qwen3_rag import DEFAULT_EMBEDDING_MODEL
from qwen3_rag.pipeline import SparseEncoder


class Qwen3SparseEmbeddings(BaseModel, SparseEmbeddings):
    """The sparse vectors of a qwen3-rag collection, for ``langchain_qdrant.QdrantVectorStore``.

    Exactly the vectors ``qwen3-rag ingest`` writes and ``TwoStageRetriever(hybrid=True)`` queries
    with (``qwen3_rag.pipeline.SparseEncoder``): the embedding model's own tokenizer terms, BM25-saturated
    counts for documents and 1.0 per term for queries; the collection's IDF modifier supplies the
    inverse document frequency. Only the tokenizer is loaded: no second model, nothing downloaded
    beyond the tokenizer files of a Hub id.

    Setup:
        .. code-block:: bash

            pip install "langchain-qwen3-rag[qdrant]"

    Instantiate (a Hub id or folder of the collection's embedding model, a loaded
    ``qwen3_rag.Qwen3Embedder``, a ``Qwen3Embeddings``, or a Hugging Face tokenizer):
        .. code-block:: python

            from langchain_qwen3_rag import Qwen3Embeddings, Qwen3SparseEmbeddings

            embeddings = Qwen3Embeddings(model="Qwen/Qwen3-Embedding-0.6B")
            sparse = Qwen3SparseEmbeddings(model=embeddings)     # shares its tokenizer

    Hybrid search on a collection written by ``qwen3-rag ingest``:
        .. code-block:: python

            from langchain_qdrant import QdrantVectorStore, RetrievalMode

            store = QdrantVectorStore(
                client=client, collection_name="qwen3_rag",
                embedding=embeddings, sparse_embedding=sparse,
                retrieval_mode=RetrievalMode.HYBRID,
                vector_name="dense", sparse_vector_name="sparse", content_payload_key="text",
            )

    A new collection made by ``QdrantVectorStore.from_texts`` should pass
    ``sparse_vector_params={"modifier": models.Modifier.IDF}``: these are term weights, not
    IDF-weighted scores.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", protected_namespaces=())

    model: str | Path | Any = DEFAULT_EMBEDDING_MODEL
    """Whose tokenizer: a Hub id or local folder (only the tokenizer is loaded), a loaded
    ``qwen3_rag.Qwen3Embedder``, an embeddings adapter holding one (``Qwen3Embeddings``), or a
    Hugging Face tokenizer. Use the collection's embedding model: term ids are per vocabulary."""

    _encoder: SparseEncoder = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._encoder = SparseEncoder.for_model(self.model, owner="Qwen3SparseEmbeddings")

    @property
    def tokenizer(self) -> Any:
        """The tokenizer the terms come from."""
        return self._encoder.tokenizer

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Document vectors: saturated term counts (as stored by ``qwen3-rag ingest``)."""
        return [_convert(v) for v in self._encoder.documents(texts)]

    def embed_query(self, text: str) -> SparseVector:
        """The query vector: 1.0 per distinct term (Qdrant's IDF modifier weighs them)."""
        return _convert(self._encoder.queries([text])[0])

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Tokenizing is fast and CPU-bound: done inline, no executor hop."""
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> SparseVector:
        """Tokenizing is fast and CPU-bound: done inline, no executor hop."""
        return self.embed_query(text)


def resolve_tokenizer(source: Any) -> Any:
    """The tokenizer of a model name or folder, a ``Qwen3Embedder``, an adapter, or a tokenizer."""
    return SparseEncoder.for_model(source, owner="Qwen3SparseEmbeddings").tokenizer


def _convert(vector: Any) -> SparseVector:
    return SparseVector(indices=list(vector.indices), values=list(vector.values))
