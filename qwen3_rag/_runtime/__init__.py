"""The embedder and reranker: the Qwen3 procedure (:mod:`.procedure`) over a backend that runs
the model, local (loading, device/dtype choice, batching: :mod:`.local`) or remote (:mod:`.remote`)."""

from .base import Backend, Qwen3Model
from .batcher import BatcherStats, MicroBatcher
from .embedder import DEFAULT_EMBEDDING_MODEL, Qwen3Embedder
from .loading import LoadedModel, close_all, loaded_models
from .local import LocalBackend
from .planning import plan_batches
from .procedure import EmbeddingProcedure, RerankProcedure
from .remote import RemoteBackend
from .reranker import DEFAULT_RERANKER_MODEL, Qwen3Reranker

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_RERANKER_MODEL",
    "Backend",
    "BatcherStats",
    "EmbeddingProcedure",
    "LoadedModel",
    "LocalBackend",
    "MicroBatcher",
    "Qwen3Embedder",
    "Qwen3Model",
    "Qwen3Reranker",
    "RemoteBackend",
    "RerankProcedure",
    "close_all",
    "loaded_models",
    "plan_batches",
]
