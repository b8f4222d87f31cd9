"""The reference two-stage pipeline on Qdrant: store, ingestion, retrieval.

``DENSE_VECTOR``, ``SPARSE_VECTOR`` and ``TEXT`` name the collection layout (the vector names and
the payload key of a chunk's text) for opening our collections with the frameworks' own Qdrant
stores (docs/frameworks-qdrant.md).
"""

import warnings
from typing import Any

from .._deprecated import REMOVED_IN, moved_attribute
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
    "Document": "qwen3_rag.pipeline._loaders",
    "find_files": "qwen3_rag.pipeline._loaders",
    "read_document": "qwen3_rag.pipeline._loaders",
    "content_hash": "qwen3_rag.pipeline._layout",
    "point_id": "qwen3_rag.pipeline._layout",
    "sparse_vectors": "qwen3_rag.pipeline._sparse",
    "term_weights": "qwen3_rag.pipeline._sparse",
}


# Answer generation left the retrieval pipeline: the command keeps a private copy (qwen3_rag._chat),
# applications write their own answer step.
_ANSWER = ("OpenAICompatibleChat", "build_messages", "extractive_answer")


def __getattr__(name: str) -> Any:
    if name in _ANSWER:
        warnings.warn(
            f"{__name__}.{name} is deprecated and goes away in {REMOVED_IN}: answer generation is not "
            "part of the retrieval pipeline. Write the answer step in your application "
            "(examples/chatbot_common.py has one to copy: an OpenAI-compatible endpoint over httpx, "
            "or a local transformers chat model).",
            DeprecationWarning,
            stacklevel=2,
        )
        from .. import _chat

        return getattr(_chat, name)
    return moved_attribute(__name__, name, _MOVED)
