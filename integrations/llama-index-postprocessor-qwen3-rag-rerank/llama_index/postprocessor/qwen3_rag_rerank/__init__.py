"""LlamaIndex reranking for qwen3-rag: Qwen3-Reranker over the shared local runtime."""

from llama_index.postprocessor.qwen3_rag_rerank.base import Qwen3Rerank

__all__ = ["Qwen3Rerank"]
