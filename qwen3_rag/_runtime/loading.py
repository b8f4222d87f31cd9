"""The process-wide cache of loaded models: one set of weights and one batcher per model.

Keyed by (checkpoint folder, kind, device, dtype, attention implementation, quantization). Every adapter in
every framework that asks for the same model gets the same :class:`LoadedModel`; concurrent
first loads of one key load it once (a lock per key). The batcher settings are not in the key:
the first load decides them, and a later load that asks for others gets a
:class:`~qwen3_rag.SharedBatcherWarning` saying which settings are in force.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._errors import ModelLoadError, SharedBatcherWarning, WrongModelKindError
from .batcher import MicroBatcher
from .checkpoints import (
    ModelKind,
    check_kind,
    check_sequence_classifier,
    is_sequence_classification,
    resolve_checkpoint,
)
from .cpu_choice import CpuChoice, choose
from .cpu_probe import LayerShape
from .devices import resolve_device, resolve_dtype
from .options import BatchingOptions, ModelOptions
from .packing import Kernel, bound_decoder_linears, kernel_for
from .quantization import quantize_decoder_int8, resolve_quantize
from .registry import _REGISTRY, _REGISTRY_LOCK, LoadedModel, close_all, loaded_models
from .resilience import HALF_DTYPES, in_float32, recompute_non_finite, split_on_out_of_memory
from .threads import CallerThreads
from .transformers_names import LOAD_LOCK, transformers_names

__all__ = [
    "BatchingOptions",
    "LoadedModel",
    "close_all",
    "get_loaded_model",
    "loaded_models",
]

logger = logging.getLogger(__name__)


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


def default_max_padding(device: torch.device) -> int | None:
    """Padding tokens an item may carry in a batch (see :func:`.planning.plan_batches`).

    CPU: 16. Measured on the 0.6B shape with the benchmark corpus (32 texts, 16 to 192 tokens),
    a bound of 16 embeds 1.93x faster than the token budget alone in float32 (20.9 s -> 10.9 s)
    and 1.85x in bf16; bounds of 8 and 32 did about as well, 64 worse; 16 was best on the small
    shape (1.27x). GPUs: no bound, they need big batches.
    """
    return 16 if device.type == "cpu" else None


@contextlib.contextmanager
def _no_loading_bar() -> Iterator[None]:
    """Without transformers' "Loading weights" bar: a progress bar per load of a local folder is
    noise on every command and in every server log (a Hub download has its own bars)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _user_stacklevel() -> int:
    """``warnings.warn``'s stacklevel of the first frame outside qwen3_rag (the caller's caller)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).split(".")[0] == "qwen3_rag":
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def _check_shared_batching(loaded: LoadedModel, asked: BatchingOptions) -> LoadedModel:
    """``loaded``, after warning if this load asked for batcher settings other than those in force."""
    conflicts = {
        name: value for name, value in asked.asked().items() if getattr(loaded.batching, name) != value
    }
    if conflicts:
        requested = ", ".join(f"{name}={value!r}" for name, value in conflicts.items())
        warnings.warn(
            SharedBatcherWarning(
                f"qwen3-rag: {loaded.kind} model {loaded.name!r} ({loaded.device}, "
                f"{loaded.precision}) is already loaded in this process, and "
                f"every load of it shares one micro-batcher, set up by the first load: "
                f"{loaded.batching.summary()}. This load asked for {requested}, which is not applied. "
                "For other settings, close the model first (close() on every embedder, reranker or "
                "adapter that holds it, or qwen3_rag.close_all()) and load it again, or load "
                "it in a separate process.",
                requested=conflicts,
                in_force=loaded.batching,
            ),
            stacklevel=_user_stacklevel(),
        )
    return loaded


def get_loaded_model(
    name: str | os.PathLike[str],
    kind: ModelKind,
    options: ModelOptions,
    *,
    make_forward: Callable[[Any, Any, torch.device], Callable[[list[list[int]]], np.ndarray]],
) -> tuple[LoadedModel, CpuChoice | None]:
    """The shared loaded model for these options, loaded on first use, and what ``dtype="auto"``
    chose on CPU for this load (or ``None``)."""
    text = os.fspath(name)
    device, dtype, quantize = options.device, options.dtype, options.quantize
    attn_implementation, batching = options.attn_implementation, options.batching
    resolved_device = resolve_device(device)
    if quantize is not None and (dtype is None or dtype == "auto"):
        dtype = "float32"  # int8 quantizes a float32 model, even where auto would pick bf16
    choice: CpuChoice | None = None
    kernel: Kernel | None = None
    measure = resolved_device.type == "cpu" and quantize is None and (dtype is None or dtype == "auto")
    if not measure:  # options are checked before any download
        resolved_dtype = resolve_dtype(dtype, resolved_device)
        quantize = resolve_quantize(quantize, resolved_device, resolved_dtype)
        kernel = kernel_for(resolved_device, resolved_dtype, quantize)
    folder = _folder_for(text)
    if measure:
        choice = _cpu_choice(folder, text, kind)  # measured once per machine, then read back
        resolved_dtype = choice.dtype
        kernel = None if choice.kernel == "float32" else choice.kernel  # the explicit loads' keys
    device_text, dtype_text = str(resolved_device), str(resolved_dtype)
    key = (str(folder), kind, device_text, dtype_text, attn_implementation, quantize, kernel)
    with _REGISTRY_LOCK:
        found = _REGISTRY.get(key)
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    if found is not None:
        return _check_shared_batching(found, batching), choice
    with key_lock:
        with _REGISTRY_LOCK:
            found = _REGISTRY.get(key)
        if found is not None:
            return _check_shared_batching(found, batching), choice
        check_kind(folder, text, kind)
        model, tokenizer = _load_weights(
            text, folder, kind, resolved_device, resolved_dtype, attn_implementation
        )
        if quantize == "int8":
            quantize_decoder_int8(model)
        elif kernel is not None:
            bound_decoder_linears(model, kernel)
        if choice is not None:
            logger.info("qwen3-rag: %s %r: %s", kind, text, choice.explain())
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
        caller_threads = CallerThreads()
        token_budget = batching.batch_tokens or default_batch_tokens(resolved_device)
        in_force = replace(batching, batch_tokens=token_budget)
        batcher = MicroBatcher(
            caller_threads.applied(guarded),
            name=f"{kind}:{text}",
            token_budget=token_budget,
            max_batch_size=in_force.max_batch_size,
            max_wait_s=in_force.max_wait_ms / 1000.0,
            max_queue_items=in_force.max_queue_items,
            max_padding=default_max_padding(resolved_device),
        )
        loaded = LoadedModel(
            text,
            kind,
            folder,
            model,
            tokenizer,
            resolved_device,
            resolved_dtype,
            batcher,
            in_force,
            quantize=quantize,
            caller_threads=caller_threads,
            kernel=kernel,
        )
        with _REGISTRY_LOCK:
            _REGISTRY[key] = loaded
        return loaded, choice


def _cpu_choice(folder: Path, name: str, kind: ModelKind) -> CpuChoice:
    """``dtype="auto"`` on CPU: the kernel measured on this model's layer shapes (:mod:`.cpu_choice`)."""
    try:
        shape = LayerShape.from_folder(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        check_kind(folder, name, kind)  # the clearer error, where there is one
        raise ModelLoadError(
            f"Model {name!r}: {str(folder / 'config.json')!r} does not give the layer shapes "
            f"(hidden_size, intermediate_size, num_attention_heads; {type(exc).__name__}: {exc}). "
            "Check that the folder is a complete Qwen3 checkpoint, or pass dtype='float32'."
        ) from exc
    return choose(shape)


def _load_weights(
    name: str,
    folder: Path,
    kind: ModelKind,
    device: torch.device,
    dtype: torch.dtype,
    attn_implementation: str | None,
) -> tuple[Any, Any]:
    auto_model, causal_lm, sequence_classifier, auto_tokenizer = transformers_names(
        "AutoModel", "AutoModelForCausalLM", "AutoModelForSequenceClassification", "AutoTokenizer"
    )

    classifier = kind == "reranker" and is_sequence_classification(folder)
    model_cls: Any = auto_model if kind == "embedding" else sequence_classifier if classifier else causal_lm
    try:
        tokenizer = auto_tokenizer.from_pretrained(folder, trust_remote_code=False)
        if classifier:
            check_sequence_classifier(folder, name, tokenizer)  # before any weights are read
        with LOAD_LOCK, _no_loading_bar():
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
