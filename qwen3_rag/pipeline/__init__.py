"""The reference two-stage pipeline on Qdrant: store, ingestion, retrieval.

``DENSE_VECTOR``, ``SPARSE_VECTOR`` and ``TEXT`` name the collection layout (the vector names and
the payload key of a chunk's text) for opening our collections with the frameworks' own Qdrant
stores (docs/frameworks-qdrant.md).
"""

from ._chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from ._framework_store import FrameworkCollection, StoredChunk
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
    "FrameworkCollection",
    "IngestReport",
    "Ingestor",
    "QdrantStore",
    "RetrievedChunk",
    "SkippedFile",
    "StoredChunk",
    "TokenChunker",
    "TwoStageRetriever",
    "build_filter",
]
