"""Wrappers around a forward pass: out-of-memory splitting and non-finite recomputation.

Both keep results exact: a split batch computes the same rows in smaller groups (batch
invariance), and a row recomputed alone sees no padding at all. A model in half precision
(float16, the default where bf16 is missing: older GPUs, Apple MPS) has one more guard: a row
still NaN/inf alone is recomputed with the weights in float32 (:func:`in_float32`), with one
warning per model, instead of failing.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

Forward = Callable[[list[list[int]]], np.ndarray]


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def split_on_out_of_memory(forward: Forward, name: str) -> Forward:
    """Retry a batch that ran out of memory as two halves, down to single items, telling the user."""

    def run(sequences: list[list[int]]) -> np.ndarray:
        try:
            return forward(sequences)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc) or len(sequences) == 1:
                raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(sequences) // 2
        longest = max(len(s) for s in sequences)
        logger.warning(
            "qwen3-rag %s: out of memory on a batch of %d sequences (longest %d tokens); retrying as "
            "two batches. Lower batch_tokens when loading to avoid the retry.",
            name,
            len(sequences),
            longest,
        )
        return np.concatenate([run(sequences[:half]), run(sequences[half:])])

    return run


HALF_DTYPES = (torch.float16, torch.bfloat16)


@contextlib.contextmanager
def _weights_in_float32(model: Any) -> Iterator[None]:
    """Cast every half-precision parameter and buffer to float32 in place, and back afterwards.

    Back is exact (float32 holds every float16/bfloat16 value), and each tensor returns to its
    own dtype (a float32 buffer such as the rotary frequencies stays float32). Peak memory is
    the float32 size of the model while it lasts.
    """
    saved: list[tuple[torch.Tensor, torch.dtype]] = []
    try:
        for tensor in itertools.chain(model.parameters(), model.buffers()):
            if tensor.dtype in HALF_DTYPES:
                saved.append((tensor, tensor.dtype))
                tensor.data = tensor.data.float()
        yield
    finally:
        for tensor, dtype in saved:
            tensor.data = tensor.data.to(dtype)


def in_float32(model: Any, forward: Forward) -> Forward:
    """``forward`` run with ``model``'s weights temporarily in float32 (for the rows that need it)."""
    lock = threading.Lock()

    def run(sequences: list[list[int]]) -> np.ndarray:
        with lock, _weights_in_float32(model):
            return forward(sequences)

    return run


def recompute_non_finite(
    forward: Forward,
    *,
    fallback: Forward | None = None,
    warn: Callable[[str, str], None] | None = None,
    name: str = "the model",
) -> Forward:
    """Recompute alone any row that came out NaN/inf (half precision, padded attention rows).

    With ``fallback`` (the forward in float32, for half-precision models), a row still not finite
    alone is recomputed there, and ``warn("float32-fallback", ...)`` says so (once per model: the
    slowdown is visible). Rows that are still not finite are returned as they are; the embedder
    and reranker refuse them with :class:`NumericalError` for exactly the callers they belong to.
    """

    def bad_rows(output: np.ndarray, count: int) -> np.ndarray:
        return np.flatnonzero(~np.isfinite(output.reshape(count, -1)).all(axis=1))

    def run(sequences: list[list[int]]) -> np.ndarray:
        output = forward(sequences)
        if len(sequences) > 1:
            for index in bad_rows(output, len(sequences)):
                output[index] = forward([sequences[index]])[0]
        if fallback is None:
            return output
        still = bad_rows(output, len(sequences))
        if len(still) == 0:
            return output
        if warn is not None:
            warn(
                "float32-fallback",
                f"qwen3-rag: {name} gave NaN/inf in half precision for some inputs; those rows were "
                "recomputed with the weights in float32 (slower, and the float32 copy needs memory "
                "while it runs). Load with dtype='bfloat16' where the device supports it, or "
                "dtype='float32', to avoid it.",
            )
        for index in still:
            try:
                output[index] = fallback([sequences[index]])[0]
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                logger.warning(
                    "qwen3-rag %s: out of memory recomputing a row in float32; it stays non-finite.", name
                )
                break
        return output

    return run
