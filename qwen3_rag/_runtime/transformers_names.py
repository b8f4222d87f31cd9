"""transformers, one thread at a time where it is not thread-safe.

Two models loading at once (the CLI loads the embedder and reranker together; two adapters in two
threads) met two races in transformers, both seen here in fresh processes:

- its public names resolve lazily (``_LazyModule.__getattr__`` imports a submodule on first use):
  two threads asking at once can see a half-initialised module (``ImportError: cannot import name
  'AutoModel' from 'transformers'``);
- ``from_pretrained`` builds the model under process-wide patches of torch (empty "meta"
  weights): another thread's load in the meantime ends in ``NotImplementedError: Cannot copy out
  of meta tensor``.

So first uses of its names go through :func:`transformers_names`, and model loads hold
:data:`LOAD_LOCK`; everything else about a load (finding the files, the tokenizer, checks,
packing, warm-up) still overlaps.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

_LOCK = threading.Lock()
LOAD_LOCK = threading.Lock()
"""Held around ``from_pretrained`` of a model (see the module docstring)."""


def transformers_names(*names: str, module: str = "transformers") -> tuple[Any, ...]:
    """``getattr(import_module(module), name)`` for each name, one thread at a time."""
    with _LOCK:
        found = importlib.import_module(module)
        return tuple(getattr(found, name) for name in names)
