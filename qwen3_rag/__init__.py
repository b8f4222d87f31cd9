"""qwen3-rag: Qwen3-Embedding and Qwen3-Reranker, faithful and batched, for RAG applications."""

from .errors import (
    ChatEndpointError,
    CollectionMismatchError,
    CollectionNotFoundError,
    InvalidOptionError,
    MissingDependencyError,
    ModelLoadError,
    NumericalError,
    OverloadedError,
    Qwen3RagError,
    RemoteBackendError,
    RuntimeClosedError,
    SharedBatcherWarning,
    StoreConnectionError,
    StoreDamagedError,
    WrongModelKindError,
)
from .prompts import DEFAULT_QUERY_INSTRUCTION, TASK_INSTRUCTIONS
from .ranking import RankedDocument
from .runtime import Qwen3Embedder, Qwen3Reranker

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_QUERY_INSTRUCTION",
    "TASK_INSTRUCTIONS",
    "ChatEndpointError",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "InvalidOptionError",
    "MissingDependencyError",
    "ModelLoadError",
    "NumericalError",
    "OverloadedError",
    "Qwen3Embedder",
    "Qwen3RagError",
    "Qwen3Reranker",
    "RankedDocument",
    "RemoteBackendError",
    "RuntimeClosedError",
    "SharedBatcherWarning",
    "StoreConnectionError",
    "StoreDamagedError",
    "WrongModelKindError",
    "__version__",
]
