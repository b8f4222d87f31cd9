"""LlamaIndex embeddings for qwen3-rag: Qwen3-Embedding over the shared local runtime."""

from llama_index.embeddings.qwen3_rag.base import Qwen3Embedding

__all__ = ["Qwen3Embedding"]
