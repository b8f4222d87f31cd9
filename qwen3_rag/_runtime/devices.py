"""Choosing the device and dtype ("auto" means: CUDA, then Apple MPS, then CPU)."""

from __future__ import annotations

import torch

from .._errors import InvalidOptionError
from . import cpu_features

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidOptionError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidOptionError(
            f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'."
        )
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on GPUs that support it, fp16 on older ones and on Apple MPS; on CPU, bf16
    where the CPU computes it natively (:func:`.cpu_features.has_native_bf16`: x86 ``avx512_bf16``
    or ``amx_bf16``), fp32 elsewhere.

    fp16 never runs unguarded: a row that comes out NaN/inf is recomputed alone, then with the
    weights in fp32, with one warning per model (:mod:`.resilience`).

    bf16 on a native-bf16 CPU: measured on the 0.6B shape, embedding and reranking both >= 2x
    fp32, min cosine to fp32 ~0.9999 (docs/benchmarks.md, "CPU dtypes and int8"); the published
    checkpoints are bf16, and transformers >= 5 loads them in bf16 by default. Where bf16 is
    emulated (AVX2, AVX-512 without BF16) it is slower than fp32, so fp32 stays. ``dtype="float32"``
    reproduces the reference to float32 rounding on any CPU.
    """
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise InvalidOptionError(f"dtype={dtype!r}; valid: float32, bfloat16, float16.")
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        if device.type == "cpu" and cpu_features.has_native_bf16():
            return torch.bfloat16
        return torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise InvalidOptionError(
            f"dtype={dtype!r}; valid: 'auto', 'float32', 'bfloat16', 'float16'."
        ) from None
