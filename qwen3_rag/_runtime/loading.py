"""The process-wide cache of loaded models: one set of weights and one batcher per model.

Keyed by (checkpoint folder, kind, device, dtype, attention implementation). Every adapter in
every framework that asks for the same model gets the same :class:`LoadedModel`; concurrent
first loads of one key load it once (a lock per key).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._errors import ModelLoadError, WrongModelKindError
from .batcher import MicroBatcher
from .checkpoints import (
    ModelKind,
    check_kind,
    check_sequence_classifier,
    checkpoint_fingerprint,
    is_sequence_classification,
    resolve_checkpoint,
)
from .devices import resolve_device, resolve_dtype
from .resilience import HALF_DTYPES, in_float32, recompute_non_finite, split_on_out_of_memory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchingOptions:
    """Settings of the shared micro-batcher; the first load of a model decides them."""

    batch_tokens: int | None = None
    max_batch_size: int | None = None
    max_wait_ms: float = 2.0
    max_queue_items: int = 100_000


@dataclass(eq=False)
class LoadedModel:
    """One loaded checkpoint: weights, tokenizer, and the batcher that serializes its use."""

    name: str
    kind: ModelKind
    folder: Path
    model: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    batcher: MicroBatcher
    warned: set[str] = field(default_factory=set)
    _warn_lock: threading.Lock = field(default_factory=threading.Lock)

    def warn_once(self, topic: str, message: str) -> None:
        """Log ``message`` the first time ``topic`` comes up for this model."""
        with self._warn_lock:
            if topic in self.warned:
                return
            self.warned.add(topic)
        logger.warning(message)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Identity of the weights (see :func:`checkpoint_fingerprint`)."""
        return checkpoint_fingerprint(self.folder)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def close(self) -> None:
        self.batcher.close()
        with _REGISTRY_LOCK:
            for key, value in list(_REGISTRY.items()):
                if value is self:
                    del _REGISTRY[key]


_REGISTRY: dict[tuple[Any, ...], LoadedModel] = {}
_REGISTRY_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[Any, ...], threading.Lock] = {}
_FOLDERS: dict[str, Path] = {}


def _folder_for(name: str) -> Path:
    # Hub ids resolve through the network the first time only.
    if name not in _FOLDERS:
        _FOLDERS[name] = resolve_checkpoint(name)
    return _FOLDERS[name]


def default_batch_tokens(device: torch.device) -> int:
    """Padded tokens per forward pass: small on CPU to keep latency low, large on GPUs."""
    return 32_768 if device.type == "cuda" else 4_096


def get_loaded_model(
    name: str | os.PathLike[str],
    *,
    kind: ModelKind,
    device: str | torch.device | None,
    dtype: str | torch.dtype | None,
    attn_implementation: str | None,
    batching: BatchingOptions,
    make_forward: Callable[[Any, Any, torch.device], Callable[[list[list[int]]], np.ndarray]],
) -> LoadedModel:
    """Return the shared loaded model for these settings, loading it on first use."""
    text = os.fspath(name)
    folder = _folder_for(text)
    resolved_device = resolve_device(device)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    key = (str(folder), kind, str(resolved_device), str(resolved_dtype), attn_implementation)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        if found is not None:
            return found
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _REGISTRY_LOCK:
            found = _REGISTRY.get(key)
        if found is not None:
            return found
        check_kind(folder, text, kind)
        model, tokenizer = _load_weights(
            text, folder, kind, resolved_device, resolved_dtype, attn_implementation
        )
        forward = make_forward(model, tokenizer, resolved_device)
        loaded: LoadedModel | None = None

        def warn(topic: str, message: str) -> None:
            if loaded is not None:
                loaded.warn_once(topic, message)

        # Half precision is always guarded: a row NaN/inf even alone is recomputed in float32.
        fallback = in_float32(model, forward) if resolved_dtype in HALF_DTYPES else None
        guarded = recompute_non_finite(
            split_on_out_of_memory(forward, f"{kind} {text!r}"),
            fallback=fallback,
            warn=warn,
            name=f"{kind} {text!r} ({str(resolved_dtype).replace('torch.', '')})",
        )
        batcher = MicroBatcher(
            guarded,
            name=f"{kind}:{text}",
            token_budget=batching.batch_tokens or default_batch_tokens(resolved_device),
            max_batch_size=batching.max_batch_size,
            max_wait_s=batching.max_wait_ms / 1000.0,
            max_queue_items=batching.max_queue_items,
        )
        loaded = LoadedModel(text, kind, folder, model, tokenizer, resolved_device, resolved_dtype, batcher)
        with _REGISTRY_LOCK:
            _REGISTRY[key] = loaded
        return loaded


def _load_weights(
    name: str,
    folder: Path,
    kind: ModelKind,
    device: torch.device,
    dtype: torch.dtype,
    attn_implementation: str | None,
) -> tuple[Any, Any]:
    from transformers import (
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    classifier = kind == "reranker" and is_sequence_classification(folder)
    model_cls: Any = (
        AutoModel
        if kind == "embedding"
        else AutoModelForSequenceClassification
        if classifier
        else AutoModelForCausalLM
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        if classifier:
            check_sequence_classifier(folder, name, tokenizer)  # before any weights are read
        model = model_cls.from_pretrained(
            folder,
            dtype=dtype,
            attn_implementation=attn_implementation,
            trust_remote_code=False,
        )
    except (OSError, ValueError) as exc:
        if isinstance(exc, WrongModelKindError):
            raise
        raise ModelLoadError(
            f"Model {name!r}: the files in {str(folder)!r} could not be loaded as a Qwen3 "
            f"{kind} checkpoint ({type(exc).__name__}: {exc}). Check that the folder is a "
            "complete download (config.json, tokenizer files, *.safetensors)."
        ) from exc
    model.to(device)
    model.eval()
    model.requires_grad_(False)
    return model, tokenizer


def loaded_models() -> list[LoadedModel]:
    """Every model loaded in this process (for diagnostics and tests)."""
    with _REGISTRY_LOCK:
        return list(_REGISTRY.values())


def close_all() -> None:
    """Close every loaded model's batcher (runs at interpreter exit)."""
    for loaded in loaded_models():
        loaded.close()


atexit.register(close_all)
