"""Choosing the device and dtype ("auto" means: CUDA, then Apple MPS, then CPU)."""

from __future__ import annotations

import torch

from .._errors import InvalidOptionError

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
    """``auto``: bf16 on GPUs that support it, fp16 on older ones and on Apple MPS; on CPU, float32
    here, because a CPU load with ``auto`` does not come here: it measures the kernels on the
    model's shapes (:mod:`.cpu_choice`; float32, float32 on oneDNN or bfloat16), since a CPU flag
    does not say whether bf16 is fast (3.2x float32 on one ``avx512_bf16`` CPU, 0.6x on another).

    fp16 never runs unguarded: a row that comes out NaN/inf is recomputed alone, then with the
    weights in fp32, with one warning per model (:mod:`.resilience`). ``dtype="float32"``
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
        return torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise InvalidOptionError(
            f"dtype={dtype!r}; valid: 'auto', 'float32', 'bfloat16', 'float16'."
        ) from None
