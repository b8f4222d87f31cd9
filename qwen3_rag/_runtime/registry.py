"""The process-wide registry of loaded models, without torch.

:mod:`.loading` (which needs torch) fills it; the rest of the runtime (the model classes, the
remote backend, ``close_all``) only reads it, so a process that talks to a server
(``base_url=``) imports no torch at all.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .batcher import MicroBatcher
from .checkpoints import ModelKind, checkpoint_fingerprint
from .options import BatchingOptions
from .threads import CallerThreads
from .warn_once import warn_once

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("qwen3_rag._runtime.loading")


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
    batching: BatchingOptions = field(default_factory=BatchingOptions)
    """The batcher's settings in force (``batch_tokens`` resolved to the device's default)."""
    quantize: str | None = None
    """``"int8"`` when the decoder's linear layers run in dynamic int8 (:mod:`.quantization`)."""
    caller_threads: CallerThreads = field(default_factory=CallerThreads)
    """The :class:`~.threads.CallerThreads` each call notes its torch thread count in."""
    kernel: str | None = None
    """The CPU linear-layer kernel (``"float32-onednn"``, ``"bfloat16"`` tiles; ``None``: plain)."""
    warned: set[str] = field(default_factory=set)
    _warn_lock: threading.Lock = field(default_factory=threading.Lock)

    def warn_once(self, topic: str, message: str) -> None:
        """Log ``message`` the first time ``topic`` comes up for this model."""
        warn_once(logger, self.warned, self._warn_lock, topic, message)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Identity of the weights (see :func:`checkpoint_fingerprint`)."""
        return checkpoint_fingerprint(self.folder)

    @property
    def precision(self) -> str:
        """The dtype, and the quantization if any: ``"float32"``, ``"float32 + int8 linear layers"``."""
        dtype = str(self.dtype).replace("torch.", "")
        if self.quantize:
            return f"{dtype} + {self.quantize} linear layers"
        return f"{dtype} (oneDNN linear layers)" if self.kernel == "float32-onednn" else dtype

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


def loaded_models() -> list[LoadedModel]:
    """Every model loaded in this process (for diagnostics and tests)."""
    with _REGISTRY_LOCK:
        return list(_REGISTRY.values())


def close_all() -> None:
    """Close every loaded model's batcher (runs at interpreter exit)."""
    for loaded in loaded_models():
        loaded.close()


atexit.register(close_all)
