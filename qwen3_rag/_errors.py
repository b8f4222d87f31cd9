"""Every error qwen3-rag raises on purpose, in one tree rooted at :class:`Qwen3RagError`.

Catch ``Qwen3RagError`` to handle all of them. Subclasses also derive from the builtin that
describes them (``ValueError``, ``RuntimeError`` ...), so code written against builtins keeps
working.
"""

from __future__ import annotations

from typing import Any


class Qwen3RagError(Exception):
    """Base class of every error raised by qwen3-rag."""


class _Mismatch(Qwen3RagError):
    """An error about something that is not what was needed: ``expected`` and ``found``."""

    def __init__(self, message: str, *, expected: Any = None, found: Any = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found


class ModelLoadError(Qwen3RagError, OSError):
    """A model could not be found or loaded (missing folder, unreachable hub, bad files).

    ``model`` is the name or folder asked for (``None`` when not known); ``reason`` what went
    wrong, when it is one of ``"not_found"`` (no such folder, and not a Hub id),
    ``"not_a_checkpoint"`` (a folder without config.json) or ``"hub_unavailable"`` (a Hub id the
    Hub could not provide: offline, unknown, gated), else ``None``.
    """

    def __init__(self, message: str, *, model: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:  # keyword-only fields survive pickling
        return (_model_load_error, (str(self), self.model, self.reason))


def _model_load_error(message: str, model: str | None, reason: str | None) -> ModelLoadError:
    return ModelLoadError(message, model=model, reason=reason)


class WrongModelKindError(_Mismatch, ValueError):
    """A checkpoint (or a served model) is not the kind of model asked for.

    A reranker loaded as an embedder or the other way round, a model that is not Qwen3, or a
    sequence classifier that is not a conversion of Qwen3-Reranker. ``expected`` is what the load
    needed and ``found`` what is there, in the same terms: a kind (``"embedding"``,
    ``"reranker"``), a ``model_type``, an architecture, a label count, a head shape (``None``:
    no head), or the head's relative difference from yes-minus-no (``expected``: the most allowed).
    ``model`` is the name or folder that was loaded, when known.
    """

    def __init__(
        self, message: str, *, expected: Any = None, found: Any = None, model: str | None = None
    ) -> None:
        super().__init__(message, expected=expected, found=found)
        self.model = model


class InvalidOptionError(Qwen3RagError, ValueError):
    """An option is out of range or of the wrong kind (dimensions, max_length, top_n ...)."""


class OverloadedError(Qwen3RagError, RuntimeError):
    """The micro-batcher queue is full; retry later or raise ``max_queue_items``."""


class RuntimeClosedError(Qwen3RagError, RuntimeError):
    """The runtime was closed while work was pending, or work was submitted after closing."""


class NumericalError(Qwen3RagError, ArithmeticError):
    """A forward pass produced NaN or infinite values that could not be recomputed safely."""


class CollectionMismatchError(_Mismatch, ValueError):
    """A Qdrant collection was made by another embedding model or dimension.

    ``expected`` is the vector space asked for (an ``EmbeddingSpec``: model, dimensions, weights
    fingerprint; ``None`` when only opened); ``found`` the one the collection records, or
    ``None`` when it holds no qwen3-rag vectors at all.
    """


class CollectionNotFoundError(Qwen3RagError, LookupError):
    """A Qdrant collection that was expected to exist does not."""


class StoreConnectionError(Qwen3RagError, ConnectionError):
    """The Qdrant server could not be reached or refused the credentials."""


class _EndpointError(Qwen3RagError):
    """An HTTP endpoint failed: ``url`` is the endpoint called; ``status`` the HTTP status of its
    answer, or ``None`` when no answer came."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status

    def __reduce__(self) -> tuple[object, ...]:  # keyword-only fields survive pickling
        return (_endpoint_error, (type(self), str(self), self.url, self.status))


def _endpoint_error(kind: type[_EndpointError], message: str, url: str, status: int | None) -> _EndpointError:
    return kind(message, url=url, status=status)


class ChatEndpointError(_EndpointError, ConnectionError):
    """The chat model's OpenAI-compatible endpoint (``--llm-url``) failed.

    Unreachable, timed out, answered an error status, or answered something that is not a chat
    completion. ``url`` is the endpoint called; ``status`` the HTTP status of its answer, or
    ``None`` when no answer came.
    """


class StoreDamagedError(Qwen3RagError, OSError):
    """An embedded Qdrant store's files are damaged (truncated, empty, unparsable)."""


class MissingDependencyError(Qwen3RagError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class RemoteBackendError(_EndpointError, ConnectionError):
    """A remote model server (``base_url=``) failed: unreachable, timed out, or answered an error.

    ``url`` is the endpoint that was called; ``status`` the HTTP status of its last answer, or
    ``None`` when no answer came (connection refused or reset, timeout).
    """


class SharedBatcherWarning(UserWarning):
    """A later load of an already loaded model asked for other micro-batcher settings.

    Every load of one model (same folder, kind, device, dtype, attention) in a process shares
    one batcher, set up by the first load; the later settings are not applied. ``requested``
    maps each conflicting setting to the value asked for; ``in_force`` holds the settings the
    batcher runs with (a ``BatchingOptions``). Close the model everywhere and load it again, or
    use a separate process, for other settings.
    """

    def __init__(self, message: str, *, requested: dict[str, Any], in_force: Any) -> None:
        super().__init__(message)
        self.requested = requested
        self.in_force = in_force
