"""The reference two-stage pipeline on Qdrant: store, ingestion, retrieval."""

from typing import Any

from . import answer as _answer
from .chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from .ingest import Ingestor, IngestReport, content_hash, point_id
from .loaders import Document, SkippedFile, find_files, read_document
from .retriever import DEFAULT_TOP_K, DEFAULT_TOP_N, RetrievedChunk, TwoStageRetriever, build_filter
from .sparse import sparse_vectors, term_weights
from .store import DEFAULT_COLLECTION, DEFAULT_QDRANT_PATH, EmbeddingSpec, QdrantStore

__all__ = [
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_COLLECTION",
    "DEFAULT_QDRANT_PATH",
    "DEFAULT_TOP_K",
    "DEFAULT_TOP_N",
    "Document",
    "EmbeddingSpec",
    "IngestReport",
    "Ingestor",
    "QdrantStore",
    "RetrievedChunk",
    "SkippedFile",
    "TokenChunker",
    "TwoStageRetriever",
    "build_filter",
    "content_hash",
    "find_files",
    "point_id",
    "read_document",
    "sparse_vectors",
    "term_weights",
]


def __getattr__(name: str) -> Any:
    # Deprecated names (answer generation moved out of the pipeline): one more version, warning.
    if name in _answer.MOVED:
        return _answer.moved(__name__, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
