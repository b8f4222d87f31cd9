"""Loading, device/dtype choice, the embedder and reranker procedures, batching."""

from .batcher import BatcherStats, MicroBatcher
from .embedder import DEFAULT_EMBEDDING_MODEL, Qwen3Embedder
from .loading import LoadedModel, close_all, loaded_models
from .planning import plan_batches
from .reranker import DEFAULT_RERANKER_MODEL, Qwen3Reranker

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_RERANKER_MODEL",
    "BatcherStats",
    "LoadedModel",
    "MicroBatcher",
    "Qwen3Embedder",
    "Qwen3Reranker",
    "close_all",
    "loaded_models",
    "plan_batches",
]
