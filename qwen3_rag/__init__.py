"""qwen3-rag: Qwen3-Embedding and Qwen3-Reranker, faithful and batched, for RAG applications.

The public API is what this package, :mod:`qwen3_rag.pipeline`, :mod:`qwen3_rag.server`,
:mod:`qwen3_rag.evaluation` and :mod:`qwen3_rag.testing` export (docs/api.md lists it); every
other module is private (a leading underscore) and may change without notice.
"""

from ._errors import (
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
from ._prompts import DEFAULT_QUERY_INSTRUCTION, TASK_INSTRUCTIONS
from ._ranking import RankedDocument, check_rerank_threshold
from ._runtime import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_RERANKER_MODEL,
    ModelOptions,
    Qwen3Embedder,
    Qwen3Reranker,
    close_all,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_QUERY_INSTRUCTION",
    "DEFAULT_RERANKER_MODEL",
    "TASK_INSTRUCTIONS",
    "ChatEndpointError",
    "CollectionMismatchError",
    "CollectionNotFoundError",
    "InvalidOptionError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelOptions",
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
    "check_rerank_threshold",
    "close_all",
]
