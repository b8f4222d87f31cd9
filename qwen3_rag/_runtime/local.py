"""The local backend: the model's forward pass on this machine, through the shared micro-batcher.

A :class:`LocalBackend` runs what the procedure (:mod:`.procedure`) decided: token ids in,
the last position's hidden state (embedding) or ``[P(yes), log-odds]`` (reranker, one forward
pass for both, :mod:`.readout`) out. The forward closures
built here are what :func:`~.loading.get_loaded_model` puts behind each model's batcher.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .._environment import QWEN3_RAG_PREFIX_CACHE
from .._prompts import EMBEDDING_END_TOKEN
from .batcher import Encoder
from .checkpoints import ModelKind
from .cpu_choice import CpuChoice
from .loading import LoadedModel, get_loaded_model
from .options import ModelOptions
from .prefix_cache import make_prefix_scorer
from .procedure import RerankInput
from .readout import YesNoReadout
from .tensors import left_pad

Forward = Callable[[list[list[int]]], np.ndarray]


def make_embedding_forward(model: Any, tokenizer: Any, device: torch.device) -> Forward:
    """Left-padded ids in, each row's last hidden state (float32, full size) out."""
    pad_id = tokenizer.convert_tokens_to_ids(EMBEDDING_END_TOKEN)

    @torch.inference_mode()
    def forward(sequences: list[list[int]]) -> np.ndarray:
        input_ids, attention_mask = left_pad(sequences, pad_id, device)
        hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return hidden[:, -1, :].float().cpu().numpy()

    return forward


def make_reranker_forward(model: Any, tokenizer: Any, device: torch.device) -> Forward:
    """Left-padded ids in, ``[P(yes), logit(yes) - logit(no)]`` at the last position out.

    P(yes) = softmax([logit(no), logit(yes)])[1], the official formula; the log-odds come from the
    same two logits (a sequence-classification conversion's head gives them directly).
    """
    readout = YesNoReadout(model, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # One query's documents share the prompt prefix: its keys/values are computed once (exact).
    prefix_scorer = (
        make_prefix_scorer(model, readout=readout, pad_id=pad_id, device=device)
        if QWEN3_RAG_PREFIX_CACHE.get()
        else None
    )

    @torch.inference_mode()
    def forward(sequences: list[list[int]]) -> np.ndarray:
        cached = prefix_scorer(sequences) if prefix_scorer is not None else None
        if cached is not None:
            return cached.numpy()
        input_ids, attention_mask = left_pad(sequences, pad_id, device)
        return readout(input_ids=input_ids, attention_mask=attention_mask).cpu().numpy()

    return forward


_FORWARDS: dict[ModelKind, Callable[[Any, Any, torch.device], Forward]] = {
    "embedding": make_embedding_forward,
    "reranker": make_reranker_forward,
}


def _as_is(sequences: Sequence[Any]) -> list[list[int]]:
    return [list(ids) for ids in sequences]


class LocalBackend:
    """Runs a :class:`~.registry.LoadedModel` (weights, tokenizer, batcher shared process-wide)."""

    remote = False
    base_url: str | None = None

    def __init__(self, loaded: LoadedModel, cpu_choice: CpuChoice | None = None) -> None:
        self.loaded = loaded
        self.cpu_choice = cpu_choice
        """What ``dtype="auto"`` chose on CPU for the load that made this backend (else ``None``)."""

    @classmethod
    def load(cls, model: str | os.PathLike[str], kind: ModelKind, options: ModelOptions) -> LocalBackend:
        loaded, choice = get_loaded_model(model, kind, options, make_forward=_FORWARDS[kind])
        return cls(loaded, choice)

    # ----------------------------------------------------------------- what it is
    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def tokenizer(self) -> Any:
        return self.loaded.tokenizer

    @property
    def fingerprint(self) -> str:
        return self.loaded.fingerprint

    @property
    def hidden_size(self) -> int:
        return self.loaded.hidden_size

    @property
    def vocabulary(self) -> int | None:
        return int(self.loaded.model.get_input_embeddings().num_embeddings)

    @property
    def describe(self) -> str:
        return f"in {self.loaded.precision}"

    @property
    def dtype_note(self) -> str | None:
        """What ``dtype="auto"`` chose on CPU and why, in one line (``None`` otherwise)."""
        return self.cpu_choice.explain() if self.cpu_choice is not None else None

    def warn_once(self, topic: str, message: str) -> None:
        self.loaded.warn_once(topic, message)

    # ----------------------------------------------------------------- running
    def embed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray:
        """The first ``dimensions`` components of each last hidden state, as a server answers
        (the procedure normalises)."""
        self.loaded.caller_threads.note()
        return self.loaded.batcher.run(items, encode)[..., :dimensions]

    async def aembed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray:
        self.loaded.caller_threads.note()
        return (await self.loaded.batcher.arun(items, encode))[..., :dimensions]

    def score(self, request: RerankInput) -> np.ndarray:
        """``[P(yes), log-odds]`` per document; ``max_window`` windows go in the same request."""
        self.loaded.caller_threads.note()
        procedure = request.procedure
        if procedure.long_documents == "truncate":  # tokenized on the worker thread
            return self.loaded.batcher.run(request.bodies, procedure.tokenize)
        sequences, owners = procedure.windows(request)
        raw = self.loaded.batcher.run(sequences, _as_is)
        return procedure.best_windows(raw, owners, len(request.bodies))

    async def ascore(self, request: RerankInput) -> np.ndarray:
        self.loaded.caller_threads.note()
        procedure = request.procedure
        if procedure.long_documents == "truncate":
            return await self.loaded.batcher.arun(request.bodies, procedure.tokenize)
        sequences, owners = await asyncio.to_thread(procedure.windows, request)  # off the event loop
        raw = await self.loaded.batcher.arun(sequences, _as_is)
        return procedure.best_windows(raw, owners, len(request.bodies))

    def close(self) -> None:
        self.loaded.close()

    def __repr__(self) -> str:
        loaded = self.loaded
        described = f"device={str(loaded.device)!r}, dtype={str(loaded.dtype).replace('torch.', '')!r}"
        if loaded.quantize:
            described += f", quantize={loaded.quantize!r}"
        if loaded.kernel == "float32-onednn":
            described += ", kernel='oneDNN'"
        note = self.dtype_note  # dtype="auto" on CPU: what the measurement chose, and why
        return described + (f", auto={note!r}" if note else "")
