"""LangChain integration for qwen3-rag: Qwen3-Embedding and Qwen3-Reranker over the shared runtime."""

from langchain_qwen3_rag.embeddings import Qwen3Embeddings
from langchain_qwen3_rag.rerank import Qwen3Rerank
from langchain_qwen3_rag.retrievers import Qwen3RagRetriever

__all__ = [
    "Qwen3Embeddings",
    "Qwen3RagRetriever",
    "Qwen3Rerank",
]
