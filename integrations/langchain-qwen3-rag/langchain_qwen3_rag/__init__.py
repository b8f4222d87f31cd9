"""LangChain integration for qwen3-rag: Qwen3-Embedding and Qwen3-Reranker over the shared runtime."""

from typing import TYPE_CHECKING, Any

from langchain_qwen3_rag.embeddings import Qwen3Embeddings
from langchain_qwen3_rag.rerank import Qwen3Rerank
from langchain_qwen3_rag.retrievers import Qwen3RagRetriever
from langchain_qwen3_rag.store import Qwen3RagVectorStore

if TYPE_CHECKING:
    from langchain_qwen3_rag.sparse import Qwen3SparseEmbeddings
    from langchain_qwen3_rag.vectorstores import Qwen3RagQdrantVectorStore

# These build on langchain-qdrant, an optional extra: imported on first use.
_QDRANT_EXPORTS = {
    "Qwen3SparseEmbeddings": "langchain_qwen3_rag.sparse",
    "Qwen3RagQdrantVectorStore": "langchain_qwen3_rag.vectorstores",
}


def __getattr__(name: str) -> Any:
    module = _QDRANT_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_qwen3_rag' has no attribute {name!r}")
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name != "langchain_qdrant":
            raise
        raise ImportError(
            f"{name} builds on langchain-qdrant: pip install 'langchain-qwen3-rag[qdrant]'"
        ) from exc


__all__ = [
    "Qwen3Embeddings",
    "Qwen3RagQdrantVectorStore",
    "Qwen3RagRetriever",
    "Qwen3RagVectorStore",
    "Qwen3Rerank",
    "Qwen3SparseEmbeddings",
]
