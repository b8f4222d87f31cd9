from llama_index.retrievers.qwen3_rag.base import Qwen3RagRetriever

__all__ = ["Qwen3RagRetriever"]
