from llama_index.retrievers.qwen3_rag.base import Qwen3RagRetriever
from llama_index.retrievers.qwen3_rag.sparse import (
    qwen3_sparse_doc_fn,
    qwen3_sparse_query_fn,
    reciprocal_rank_fusion,
)

__all__ = [
    "Qwen3RagRetriever",
    "qwen3_sparse_doc_fn",
    "qwen3_sparse_query_fn",
    "reciprocal_rank_fusion",
]
