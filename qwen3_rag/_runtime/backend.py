"""What runs a model: the :class:`Backend` protocol and :func:`open_backend`, which picks one.

A backend computes what the procedure (:mod:`.procedure`) decided, and is shared by every view of
its model: a :class:`~.local.LocalBackend` over the process-wide weights and batcher
(:mod:`.registry`), or a :class:`~.remote.RemoteBackend` speaking HTTP to a server.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .batcher import Encoder
from .checkpoints import ModelKind
from .options import ModelOptions
from .procedure import RerankInput
from .remote import RemoteBackend


class Backend(Protocol):
    """What runs the model. The procedure decides the token ids or texts; the backend computes."""

    remote: bool

    @property
    def base_url(self) -> str | None: ...
    @property
    def name(self) -> str: ...
    @property
    def tokenizer(self) -> Any: ...
    @property
    def fingerprint(self) -> str | None: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def vocabulary(self) -> int | None: ...
    @property
    def describe(self) -> str: ...

    def warn_once(self, topic: str, message: str) -> None: ...
    def embed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray:
        """``dimensions`` components per item: the first ones of its last hidden state (MRL)."""
        ...

    async def aembed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray: ...
    def score(self, request: RerankInput) -> np.ndarray: ...
    async def ascore(self, request: RerankInput) -> np.ndarray: ...
    def close(self) -> None: ...


def open_backend(model: str | os.PathLike[str], kind: ModelKind, options: ModelOptions) -> Backend:
    """The shared backend for ``model``: on the server at ``options.base_url``, else loaded here."""
    if options.base_url is None:
        from .local import LocalBackend  # torch is imported here, on the first local load

        return LocalBackend.load(model, kind, options)
    return RemoteBackend.connect(model, kind, options)
