"""The caller's ``torch.set_num_threads`` reaches the batcher's worker thread.

torch's CPU thread count is per thread (OpenMP's setting of the calling thread; threads started
later inherit it). The forward passes run on the micro-batcher's worker thread, started when the
model loads, so a count the application sets after loading would silently not apply. Each call
records its caller's count, and the worker adopts it before the next forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class CallerThreads:
    """The latest caller's torch thread count, applied on the thread that runs the forward passes."""

    def __init__(self) -> None:
        self.wanted: int | None = None

    def note(self) -> None:
        """Record the calling thread's count (called in the caller's thread, before submitting)."""
        import torch  # here, not at the top: the torch-free registry (.shared) holds one of these

        self.wanted = torch.get_num_threads()

    def applied(self, forward: Callable[[list[list[int]]], T]) -> Callable[[list[list[int]]], T]:
        """``forward``, run after the worker thread adopts the recorded count."""

        import torch

        def run(sequences: list[list[int]]) -> T:
            wanted = self.wanted
            if wanted is not None and torch.get_num_threads() != wanted:
                torch.set_num_threads(wanted)
            return forward(sequences)

        return run
