"""What one server serves, and where it is in its life: loading, ready, closing."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["loading", "ready", "closing", "failed"]
ModelKind = Literal["embedding", "reranker"]

Loader = Callable[[], tuple[Any, Any]]
"""Loads the models (in a worker thread): returns ``(embedder or None, reranker or None)``."""


def model_aliases(name: str) -> set[str]:
    """Names a client may use for a served model: as given, and its last path component."""
    stripped = name.rstrip("/\\")
    return {name, stripped, os.path.basename(stripped)} - {""}


@dataclass(eq=False)
class ServerState:
    """The served models and the server's phase; the phase only moves forward."""

    embedder: Any = None
    reranker: Any = None
    phase: Phase = "loading"
    error: BaseException | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_models(self, embedder: Any, reranker: Any) -> None:
        with self._lock:
            self.embedder, self.reranker = embedder, reranker
            if self.phase == "loading":
                self.phase = "ready"

    def fail(self, error: BaseException) -> None:
        with self._lock:
            self.error = error
            self.phase = "failed"

    def begin_closing(self) -> None:
        """From now on new requests get 503; requests in flight finish."""
        with self._lock:
            if self.phase != "failed":
                self.phase = "closing"

    @property
    def ready(self) -> bool:
        return self.phase == "ready"

    def served(self) -> list[tuple[ModelKind, Any]]:
        found: list[tuple[ModelKind, Any]] = []
        if self.embedder is not None:
            found.append(("embedding", self.embedder))
        if self.reranker is not None:
            found.append(("reranker", self.reranker))
        return found

    def close_models(self) -> None:
        for _, model in self.served():
            model.close()
