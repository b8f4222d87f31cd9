"""How a model is loaded, as one value: :class:`ModelOptions` holds the one copy of the defaults,
goes from ``load`` (or an adapter's fields) to the backend, and checks itself when built.

``load(model, ...)`` splits its options in two: these, which pick the backend (where the model
runs, on which device and dtype, with which batcher; shared by every view of the model), and the
view's own (``dimensions``, ``max_length``, ``instruction``, ``long_documents``), which each
``Qwen3Embedder`` / ``Qwen3Reranker`` object keeps for itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .._errors import InvalidOptionError
from .validation import check_positive_int

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class BatchingOptions:
    """Settings of the shared micro-batcher, checked when built; the first load of a model decides them."""

    batch_tokens: int | None = None
    max_batch_size: int | None = None
    max_wait_ms: float = 2.0
    max_queue_items: int = 100_000

    def __post_init__(self) -> None:
        if self.batch_tokens is not None:
            default = "Use None for the device's default (4096 on CPU, 32768 on CUDA)."
            check_positive_int(self.batch_tokens, "batch_tokens", hint=default)
        if self.max_batch_size is not None:
            check_positive_int(self.max_batch_size, "max_batch_size", hint="Use None for no limit.")
        wait = self.max_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not (0 <= wait < math.inf):
            raise InvalidOptionError(f"max_wait_ms must be a number of milliseconds >= 0, got {wait!r}.")
        check_positive_int(self.max_queue_items, "max_queue_items")

    def asked(self) -> dict[str, Any]:
        """The settings that differ from the defaults: what a load explicitly asked for."""
        default = BatchingOptions()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    def summary(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """Where and how a model runs: what ``Qwen3Embedder.load`` / ``Qwen3Reranker.load`` take
    besides the model and the view's options, with their defaults.

    ``base_url=None`` runs the model in this process (``device``, ``dtype``, ``quantize``,
    ``attn_implementation`` and the batcher's settings apply); a URL runs it on that server
    (``api_key``, ``timeout``, ``max_retries``, ``served_model`` and ``api`` apply, and the local
    settings must stay at their defaults). The framework adapters pass their fields on through it:

    >>> options = ModelOptions(base_url="http://gpu-box:8000/v1", timeout=30.0)
    >>> embedder = Qwen3Embedder.from_options("Qwen/Qwen3-Embedding-0.6B", options, dimensions=256)
    """

    device: Any = "auto"
    """``"auto"`` (CUDA, then Apple MPS, then CPU), a name such as ``"cuda:1"``, or a ``torch.device``."""
    dtype: Any = "auto"
    """``"auto"``, ``"bfloat16"``, ``"float32"``, ``"float16"`` or a ``torch.dtype``."""
    quantize: str | None = None
    """``"int8"``: the decoder's linear layers in dynamic int8 (CPU, float32)."""
    attn_implementation: str | None = "sdpa"
    batching: BatchingOptions = field(default_factory=BatchingOptions)
    base_url: str | None = None
    """A model server's API root (``"http://host:8000/v1"``); ``None`` runs the model here."""
    api_key: str | None = None
    """The server's API key (default ``$QWEN3_RAG_API_KEY``)."""
    timeout: float = DEFAULT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    served_model: str | None = None
    api: str = "auto"

    @classmethod
    def names(cls) -> frozenset[str]:
        """Every option ``load`` takes for the backend (the batcher's settings by their own names)."""
        own = {f.name for f in fields(cls)} - {"batching"}
        return frozenset(own | {f.name for f in fields(BatchingOptions)})

    @classmethod
    def from_load_options(cls, options: Mapping[str, Any]) -> ModelOptions:
        """The value for ``load``'s keyword options (batcher settings flat, as ``load`` takes them)."""
        batcher = {f.name for f in fields(BatchingOptions)}
        batching = BatchingOptions(**{k: v for k, v in options.items() if k in batcher})
        return cls(**{k: v for k, v in options.items() if k not in batcher}, batching=batching)


def given_options(
    settings: Any, names: Iterable[str], renamed: Mapping[str, str | None] | None = None
) -> dict[str, Any]:
    """The options a framework object's user set: ``{option: value}``.

    ``settings`` is a pydantic model (LangChain's and LlamaIndex's classes are); of its fields in
    its ``model_fields_set``, those named in ``names`` are passed on, under the name ``renamed``
    gives them (``None``: a field of the same name that means something else, not passed on). A
    ``SecretStr`` is passed on as its value. Unset fields are left to the defaults here.
    """
    renamed = renamed or {}
    out: dict[str, Any] = {}
    for field_name in settings.model_fields_set:
        option = renamed.get(field_name, field_name)
        if option is None or option not in names:
            continue
        value = getattr(settings, field_name)
        reveal = getattr(value, "get_secret_value", None)
        out[option] = reveal() if callable(reveal) else value
    return out
