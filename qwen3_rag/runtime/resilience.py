"""Wrappers around a forward pass: out-of-memory splitting and non-finite recomputation.

Both keep results exact: a split batch computes the same rows in smaller groups (batch
invariance), and a row recomputed alone sees no padding at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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


def recompute_non_finite(forward: Forward) -> Forward:
    """Recompute alone any row that came out NaN/inf (half precision, padded attention rows).

    Rows that are still not finite are returned as they are; the embedder and reranker refuse
    them with :class:`NumericalError` for exactly the callers they belong to.
    """

    def run(sequences: list[list[int]]) -> np.ndarray:
        output = forward(sequences)
        if len(sequences) > 1:
            bad = ~np.isfinite(output.reshape(len(sequences), -1)).all(axis=1)
            for index in np.flatnonzero(bad):
                output[index] = forward([sequences[index]])[0]
        return output

    return run
