"""What the embedder and the reranker share: one ``load``, and a procedure over a backend.

A model object is a cheap *view*: its own options (``max_length``, ``instruction``; the embedder's
``dimensions``, the reranker's ``long_documents``) live in its procedure; the backend that runs
the model (:mod:`.backend`: local weights and batcher, or a server) is shared by every view of it
and is chosen by a :class:`~.options.ModelOptions`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from .._errors import InvalidOptionError
from .backend import Backend, open_backend
from .checkpoints import ModelKind
from .options import ModelOptions, given_options
from .registry import LoadedModel

if TYPE_CHECKING:
    import torch

    from .local import LocalBackend

_OPTIONS = ModelOptions()  # the defaults, for load's signature
_BATCHING = _OPTIONS.batching

ModelT = TypeVar("ModelT", bound="Qwen3Model")


class Qwen3Model:
    """The shared base of :class:`Qwen3Embedder` and :class:`Qwen3Reranker`."""

    kind: ClassVar[ModelKind]
    default_model: ClassVar[str]
    _options: ClassVar[tuple[str, ...]] = ("max_length", "instruction")

    procedure_type: ClassVar[Any]
    """The procedure class (the Qwen3 rules for this kind), built with the view's options."""

    def __init__(self, backend: Backend | LoadedModel, **options: Any) -> None:
        if isinstance(backend, LoadedModel):
            from .local import LocalBackend

            backend = LocalBackend(backend)
        self.backend: Backend = backend
        self.procedure = self.procedure_type(
            backend.tokenizer, name=backend.name, warn=backend.warn_once, describe=backend.describe, **options
        )

    @classmethod
    def load(
        cls: type[ModelT],
        model: str | os.PathLike[str] | None = None,
        *,
        device: str | torch.device | None = _OPTIONS.device,
        dtype: str | torch.dtype | None = _OPTIONS.dtype,
        quantize: str | None = _OPTIONS.quantize,
        attn_implementation: str | None = _OPTIONS.attn_implementation,
        batch_tokens: int | None = _BATCHING.batch_tokens,
        max_batch_size: int | None = _BATCHING.max_batch_size,
        max_wait_ms: float = _BATCHING.max_wait_ms,
        max_queue_items: int = _BATCHING.max_queue_items,
        base_url: str | None = _OPTIONS.base_url,
        api_key: str | None = _OPTIONS.api_key,
        timeout: float = _OPTIONS.timeout,
        max_retries: int = _OPTIONS.max_retries,
        served_model: str | None = _OPTIONS.served_model,
        api: str = _OPTIONS.api,
        **view: Any,
    ) -> ModelT:
        """Load (or reuse) a checkpoint: a Hub id or a local folder (default: the 0.6B model).

        ``view`` holds the object's own options: ``dimensions`` (the embedder's Matryoshka size,
        32 to the hidden size), ``max_length``, ``instruction`` (the default task instruction) and
        the reranker's ``long_documents``: ``"truncate"`` (official: a pair longer than
        ``max_length`` loses its document end) or ``"max_window"`` (the document is scored as
        overlapping windows of the budget, each in the whole template, and its score is the best
        window's; the windows are batched with everything else).

        ``batch_tokens`` (padded tokens per forward pass), ``max_batch_size``, ``max_wait_ms`` and
        ``max_queue_items`` configure the shared micro-batcher and are decided by the first load
        of the model in the process: a later load that asks for other values gets them ignored,
        with a :class:`~qwen3_rag.SharedBatcherWarning` naming the settings in force.

        ``quantize="int8"`` (CPU, float32) runs the decoder's linear layers in dynamic int8:
        faster than float32 and bf16 here, but not faithful to the reference (the measured
        speed and accuracy are in docs/benchmarks.md, "CPU dtypes and int8"); it is its own entry
        in the process-wide cache, beside an unquantized load of the same checkpoint.

        With ``base_url`` (e.g. ``"http://host:8000/v1"``) the model runs on that server
        (``qwen3-rag serve``; vLLM's ``/v1/embeddings``, or its ``/rerank`` with the template
        applied here): only the tokenizer is loaded here, from ``model``. ``api_key`` (default
        ``$QWEN3_RAG_API_KEY``) is sent as a bearer token; ``timeout`` bounds each call in
        seconds, retries included; ``max_retries`` retries connection errors, 429 and 503;
        ``served_model`` is the name the server knows the model by (default: found in its
        ``/v1/models``); ``api`` is ``"auto"``, ``"qwen3-rag"`` or ``"vllm"``. Errors are
        :class:`~qwen3_rag.RemoteBackendError`.

        Besides the official causal-LM reranker checkpoints, a sequence-classification conversion
        (``Qwen3ForSequenceClassification`` with one label, whose head is the "yes" row minus the
        "no" row of the LM head) loads too and gives the same scores; other classifiers are refused.
        """
        # Every keyword above but ``model`` is a ModelOptions name: one value from here down.
        given = {name: value for name, value in locals().items() if name in ModelOptions.names()}
        return cls.from_options(model, ModelOptions.from_load_options(given), **view)

    @classmethod
    def from_options(
        cls: type[ModelT], model: str | os.PathLike[str] | None, options: ModelOptions, **view: Any
    ) -> ModelT:
        """:meth:`load` with its backend options as one value (what the adapters pass on)."""
        return cls(open_backend(model if model is not None else cls.default_model, cls.kind, options), **view)

    @classmethod
    def resolve(
        cls: type[ModelT],
        model: str | os.PathLike[str] | Qwen3Model,
        settings: Any,
        *,
        owner: str,
        renamed: Mapping[str, str | None] | None = None,
    ) -> ModelT:
        """The model a framework adapter is configured with: one resolve for every adapter.

        ``settings`` is the adapter (a pydantic model): the fields its user set that are options of
        :meth:`load` (by name, or by the name ``renamed`` maps them to; ``None`` for a field that
        means something else) are passed on; the others keep :class:`ModelOptions`' defaults.
        ``model`` is a name, loaded with them, or a loaded object, used as it is: a view of it with
        the view options given changed. A loaded object with backend options (``device``,
        ``base_url``, ...) is refused, naming them (``owner`` is the adapter's class name).
        """
        given = given_options(settings, ModelOptions.names() | set(cls._options), renamed)
        backend = {name: given[name] for name in ModelOptions.names() & set(given)}
        view = {name: value for name, value in given.items() if name not in backend}
        if not isinstance(model, Qwen3Model):
            return cls.from_options(model, ModelOptions.from_load_options(backend), **view)
        if not isinstance(model, cls):
            raise InvalidOptionError(f"{owner} needs a {cls.__name__}, got a {type(model).__name__}.")
        if backend:
            raise InvalidOptionError(
                f"{owner} got a loaded {cls.__name__} and {', '.join(sorted(backend))}: a loaded model "
                "already has its device, dtype and quantization. Drop those options, or pass the model "
                "name instead."
            )
        return model.with_options(**view)

    def with_options(self: ModelT, **changes: Any) -> ModelT:
        """A view over the same backend with some options changed (``None`` keeps one)."""
        unknown = set(changes) - set(self._options)
        if unknown:
            raise TypeError(
                f"with_options() got unknown options {sorted(unknown)}; valid: {list(self._options)}."
            )
        if all(value is None for value in changes.values()):
            return self
        options = {name: getattr(self, name) for name in self._options}
        options.update({name: value for name, value in changes.items() if value is not None})
        return type(self)(self.backend, **options)

    # ----------------------------------------------------------------- properties
    @property
    def max_length(self) -> int:
        """Tokens per text (embedder, end token included) or per query/document pair (reranker);
        longer inputs lose the end of their text or document."""
        return int(self.procedure.max_length)

    @property
    def instruction(self) -> str:
        """The default task instruction (put before queries)."""
        return str(self.procedure.instruction)

    @property
    def runtime(self) -> LoadedModel:
        """The shared loaded model (weights, tokenizer, batcher); local models only."""
        if not self.backend.remote:
            return cast("LocalBackend", self.backend).loaded
        raise AttributeError(
            f"{type(self).__name__} for {self.model_name!r} runs on the server at "
            f"{self.backend.base_url}; it has no local runtime (.runtime and .model are local only)."
        )

    @property
    def model(self) -> Any:
        """The loaded transformers model (shared with every other user of it); local only."""
        return self.runtime.model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (loaded on this machine for remote models too)."""
        return self.backend.tokenizer

    @property
    def model_name(self) -> str:
        """The model as it was named to ``load`` (Hub id or folder), local or remote."""
        return self.backend.name

    @property
    def fingerprint(self) -> str | None:
        """A digest of the weights: equal for copies of one model, different for other models.

        Remote: the fingerprint the server reports (``qwen3-rag serve`` reports its weights'), or
        ``None`` (vLLM): collections then tell models apart by name and size only.
        """
        return self.backend.fingerprint

    @property
    def remote(self) -> bool:
        """Whether a server (``base_url``) runs the model."""
        return self.backend.remote

    @property
    def base_url(self) -> str | None:
        """The server's URL for remote models; ``None`` for local ones."""
        return self.backend.base_url

    def close(self) -> None:
        """Local: close the shared runtime of this model (every view of it; pending work fails).
        Remote: close the HTTP connections (every view of them)."""
        self.backend.close()

    def _repr_options(self) -> str:
        return ""

    def __repr__(self) -> str:
        where = f"base_url={self.base_url!r}" if self.remote else repr(self.backend)
        return f"{type(self).__name__}(model={self.model_name!r}, {where}{self._repr_options()})"
