"""Opt-in dynamic int8 quantization of the decoder's linear layers (CPU only).

``quantize="int8"`` replaces every ``nn.Linear`` inside the decoder with torch's dynamic int8
linear (weights int8 per tensor, activations quantized per call); the token embedding, the
reranker's LM head (its two readout rows) and a sequence-classification head stay float32.

Measured on the 0.6B shape on this project's CPU (docs/benchmarks.md, "CPU dtypes and int8"):
reranking 4.15x float32 against bf16's 3.17x with the same rank order (max |ΔP(yes)| 0.04);
embedding 3.09x against bf16's 2.95x but a worse minimum cosine to float32 (0.991 vs 0.9999).
That is why it is an option and never what ``dtype="auto"`` picks: it trades fidelity for speed.

torch marks its quantized-tensor functions deprecated (pytorch/pytorch#184982) in favour of
torchao; they still run in the pinned torch, and their notice is silenced here so that a user
who asked for int8 does not get a warning about our implementation choice.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from .._errors import InvalidOptionError

QUANTIZE_CHOICES = ("int8",)


def resolve_quantize(quantize: str | None, device: torch.device, dtype: torch.dtype) -> str | None:
    """``quantize`` checked against the device and dtype it must run with (``None``: none)."""
    if quantize is None:
        return None
    if quantize not in QUANTIZE_CHOICES:
        raise InvalidOptionError(f"quantize={quantize!r}; valid: None (no quantization) or 'int8'.")
    if device.type != "cpu":
        raise InvalidOptionError(
            f"quantize='int8' runs on CPU only (torch's dynamic int8 kernels), not on {device}. "
            "Use device='cpu', or leave quantize out and use dtype='bfloat16' on GPUs."
        )
    if dtype != torch.float32:
        raise InvalidOptionError(
            f"quantize='int8' quantizes a float32 model, but dtype={str(dtype).replace('torch.', '')!r} "
            "was asked for. Use dtype='float32' or dtype='auto' with quantize='int8'."
        )
    return quantize


def quantize_decoder_int8(model: Any) -> None:
    """Quantize the decoder's linear layers of a float32 CPU model, in place."""
    from torch.ao.quantization import quantize_dynamic

    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notice, see the module docstring
        quantize_dynamic(decoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
