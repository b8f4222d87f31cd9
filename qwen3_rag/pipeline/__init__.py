"""The reference two-stage pipeline on Qdrant: store, ingestion, retrieval.

``DENSE_VECTOR``, ``SPARSE_VECTOR`` and ``TEXT`` name the collection layout (the vector names and
the payload key of a chunk's text) for opening our collections with the frameworks' own Qdrant
stores (docs/frameworks-qdrant.md).
"""

from typing import Any

from .._deprecated import moved_attribute
from ._chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from ._ingest import Ingestor, IngestReport
from ._layout import DENSE_VECTOR, SPARSE_VECTOR, TEXT
from ._loaders import SkippedFile
from ._retriever import DEFAULT_TOP_K, DEFAULT_TOP_N, RetrievedChunk, TwoStageRetriever, build_filter
from ._store import DEFAULT_COLLECTION, DEFAULT_QDRANT_PATH, EmbeddingSpec, QdrantStore

__all__ = [
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_COLLECTION",
    "DEFAULT_QDRANT_PATH",
    "DEFAULT_TOP_K",
    "DEFAULT_TOP_N",
    "DENSE_VECTOR",
    "SPARSE_VECTOR",
    "TEXT",
    "EmbeddingSpec",
    "IngestReport",
    "Ingestor",
    "QdrantStore",
    "RetrievedChunk",
    "SkippedFile",
    "TokenChunker",
    "TwoStageRetriever",
    "build_filter",
]

# Exported before 0.1's public-surface cut; served with a DeprecationWarning until 0.2.
_MOVED = {
    "OpenAICompatibleChat": "qwen3_rag.pipeline._answer",
    "build_messages": "qwen3_rag.pipeline._answer",
    "extractive_answer": "qwen3_rag.pipeline._answer",
    "Document": "qwen3_rag.pipeline._loaders",
    "find_files": "qwen3_rag.pipeline._loaders",
    "read_document": "qwen3_rag.pipeline._loaders",
    "content_hash": "qwen3_rag.pipeline._layout",
    "point_id": "qwen3_rag.pipeline._layout",
    "sparse_vectors": "qwen3_rag.pipeline._sparse",
    "term_weights": "qwen3_rag.pipeline._sparse",
}


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name, _MOVED)
