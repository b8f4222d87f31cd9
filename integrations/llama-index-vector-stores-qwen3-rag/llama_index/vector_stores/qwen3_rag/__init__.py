from llama_index.vector_stores.qwen3_rag.base import Qwen3RagVectorStore
from llama_index.vector_stores.qwen3_rag.filters import to_qdrant_filter

__all__ = ["Qwen3RagVectorStore", "to_qdrant_filter"]
