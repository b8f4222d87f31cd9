"""What the embedder and the reranker share: a procedure (the Qwen3 rules) over a backend.

A model object is a cheap *view*: its options (``max_length``, ``instruction``, for the
embedder ``dimensions``) live in its procedure; the backend that runs the model (a
:class:`~.local.LocalBackend` over the shared weights and batcher, or a
:class:`~.remote.RemoteBackend` speaking HTTP) is shared by every view of it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol, TypeVar, cast

import numpy as np

from .batcher import Encoder
from .checkpoints import ModelKind
from .procedure import RerankInput
from .remote import RemoteBackend, check_local_options
from .shared import BatchingOptions, LoadedModel

if TYPE_CHECKING:
    from .local import LocalBackend


class Backend(Protocol):
    """What runs the model. The procedure decides the token ids or texts; the backend computes."""

    remote: bool

    @property
    def base_url(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def tokenizer(self) -> Any: ...
    @property
    def fingerprint(self) -> str | None: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def vocabulary(self) -> int | None: ...
    @property
    def describe(self) -> str: ...

    def warn_once(self, topic: str, message: str) -> None: ...
    def embed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray: ...
    async def aembed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray: ...
    def score(self, request: RerankInput) -> np.ndarray: ...
    async def ascore(self, request: RerankInput) -> np.ndarray: ...
    def close(self) -> None: ...


class RemoteOptions(NamedTuple):
    """Where a model runs when it runs on a server (``base_url=None``: in this process)."""

    base_url: str | None
    api_key: str | None
    timeout: float
    max_retries: int
    served_model: str | None
    api: str


def open_backend(
    model: str | os.PathLike[str],
    kind: ModelKind,
    *,
    device: Any,
    dtype: Any,
    attn_implementation: str | None,
    batching: BatchingOptions,
    remote: RemoteOptions,
    quantize: str | None = None,
) -> Backend:
    """The shared backend for ``model``: on the server at ``remote.base_url``, else loaded here."""
    if remote.base_url is None:
        from .local import LocalBackend  # torch is imported here, on the first local load

        return LocalBackend.load(
            model,
            kind=kind,
            device=device,
            dtype=dtype,
            attn_implementation=attn_implementation,
            batching=batching,
            quantize=quantize,
        )
    check_local_options(device=device, dtype=dtype, quantize=quantize)
    return RemoteBackend.connect(
        model,
        kind=kind,
        base_url=remote.base_url,
        api_key=remote.api_key,
        timeout=remote.timeout,
        max_retries=remote.max_retries,
        served_model=remote.served_model,
        api=remote.api,
    )


ModelT = TypeVar("ModelT", bound="Qwen3Model")


class Qwen3Model:
    """The shared base of :class:`Qwen3Embedder` and :class:`Qwen3Reranker`."""

    kind: ClassVar[ModelKind]
    _options: ClassVar[tuple[str, ...]] = ("max_length", "instruction")

    def __init__(self, backend: Backend | LoadedModel) -> None:
        if isinstance(backend, LoadedModel):
            from .local import LocalBackend

            backend = LocalBackend(backend)
        self.backend: Backend = backend

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
    def runtime(self) -> LoadedModel:
        """The shared loaded model (weights, tokenizer, batcher); local models only."""
        if not self.backend.remote:
            return cast("LocalBackend", self.backend).runtime
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
