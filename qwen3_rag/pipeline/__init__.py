"""The reference two-stage pipeline on Qdrant: store, ingestion, retrieval.

``DENSE_VECTOR``, ``SPARSE_VECTOR`` and ``TEXT`` name the collection layout (the vector names and
the payload key of a chunk's text) for opening our collections with the frameworks' own Qdrant
stores (docs/frameworks-qdrant.md); ``METADATA`` and ``TENANT`` the payload keys of a chunk's user
metadata and tenant; ``chunk_point_id(source, chunk_index, tenant)`` a chunk's point id.
"""

from ._chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, TokenChunker
from ._filters import Where, to_qdrant_filter
from ._framework_store import FrameworkCollection, StoredChunk, vector_space
from ._ingest import Ingestor, IngestReport
from ._layout import DENSE_VECTOR, METADATA, SPARSE_VECTOR, TENANT, TEXT, Hit, chunk_point_id, source_key
from ._loaders import SkippedFile
from ._opening import embedder_for_collection
from ._retriever import DEFAULT_TOP_K, DEFAULT_TOP_N, RetrievedChunk, TwoStageRetriever, build_filter
from ._source_documents import ChunkedDocument, SourceDocument
from ._sparse import SparseEncoder, sparse_vectors
from ._store import DEFAULT_COLLECTION, DEFAULT_QDRANT_PATH, EmbeddingSpec, QdrantStore

__all__ = [
    "DEFAULT_CHUNK_OVERLAP",
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_COLLECTION",
    "DEFAULT_QDRANT_PATH",
    "DEFAULT_TOP_K",
    "DEFAULT_TOP_N",
    "DENSE_VECTOR",
    "METADATA",
    "SPARSE_VECTOR",
    "TENANT",
    "TEXT",
    "ChunkedDocument",
    "EmbeddingSpec",
    "FrameworkCollection",
    "Hit",
    "IngestReport",
    "Ingestor",
    "QdrantStore",
    "RetrievedChunk",
    "SkippedFile",
    "SourceDocument",
    "SparseEncoder",
    "StoredChunk",
    "TokenChunker",
    "TwoStageRetriever",
    "Where",
    "build_filter",
    "chunk_point_id",
    "embedder_for_collection",
    "source_key",
    "sparse_vectors",
    "to_qdrant_filter",
    "vector_space",
]
