"""Every error qwen3-rag raises on purpose, in one tree rooted at :class:`Qwen3RagError`.

Catch ``Qwen3RagError`` to handle all of them. Subclasses also derive from the builtin that
describes them (``ValueError``, ``RuntimeError`` ...), so code written against builtins keeps
working.
"""

from __future__ import annotations


class Qwen3RagError(Exception):
    """Base class of every error raised by qwen3-rag."""


class ModelLoadError(Qwen3RagError, OSError):
    """A model could not be found or loaded (missing folder, unreachable hub, bad files)."""


class WrongModelKindError(Qwen3RagError, ValueError):
    """A reranker checkpoint was loaded as an embedder, or the other way round."""


class InvalidOptionError(Qwen3RagError, ValueError):
    """An option is out of range or of the wrong kind (dimensions, max_length, top_n ...)."""


class OverloadedError(Qwen3RagError, RuntimeError):
    """The micro-batcher queue is full; retry later or raise ``max_queue_items``."""


class RuntimeClosedError(Qwen3RagError, RuntimeError):
    """The runtime was closed while work was pending, or work was submitted after closing."""


class NumericalError(Qwen3RagError, ArithmeticError):
    """A forward pass produced NaN or infinite values that could not be recomputed safely."""


class CollectionMismatchError(Qwen3RagError, ValueError):
    """A Qdrant collection was made by another embedding model or dimension."""


class CollectionNotFoundError(Qwen3RagError, LookupError):
    """A Qdrant collection that was expected to exist does not."""


class StoreConnectionError(Qwen3RagError, ConnectionError):
    """The Qdrant server could not be reached or refused the credentials."""


class StoreDamagedError(Qwen3RagError, OSError):
    """An embedded Qdrant store's files are damaged (truncated, empty, unparsable)."""


class MissingDependencyError(Qwen3RagError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class RemoteBackendError(Qwen3RagError, ConnectionError):
    """A remote model server (``base_url=``) failed: unreachable, timed out, or answered an error.

    ``url`` is the endpoint that was called; ``status`` the HTTP status of its last answer, or
    ``None`` when no answer came (connection refused or reset, timeout).
    """

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status

    def __reduce__(self) -> tuple[object, ...]:  # keyword-only fields survive pickling
        return (_remote_error, (str(self), self.url, self.status))


def _remote_error(message: str, url: str, status: int | None) -> RemoteBackendError:
    return RemoteBackendError(message, url=url, status=status)
