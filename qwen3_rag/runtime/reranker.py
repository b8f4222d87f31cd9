"""Qwen3-Reranker: the official yes/no procedure (REFERENCE.md) behind the shared runtime.

Procedure: ids = prefix + body + suffix, where prefix and suffix are the fixed chat-template
pieces and body is ``<Instruct>: ...\\n<Query>: ...\\n<Document>: ...`` tokenized without
special tokens and cut from its end so the whole fits ``max_length``; left padding; the causal
LM's logits at the last position only; score = softmax([logit("no"), logit("yes")])[1].
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import InvalidOptionError, NumericalError
from ..prompts import (
    DEFAULT_QUERY_INSTRUCTION,
    RERANKER_NO_TOKEN,
    RERANKER_PREFIX,
    RERANKER_SUFFIX,
    RERANKER_YES_TOKEN,
    format_rerank_body,
)
from .loading import BatchingOptions, LoadedModel, get_loaded_model
from .prefix_cache import make_prefix_scorer
from .tensors import left_pad
from .validation import check_instruction, check_positive_int, check_text, check_texts

DEFAULT_RERANKER_MODEL = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_MAX_LENGTH = 8192


def _make_forward(
    model: Any, tokenizer: Any, device: torch.device
) -> Callable[[list[list[int]]], np.ndarray]:
    yes_id, no_id = (int(tokenizer.convert_tokens_to_ids(t)) for t in (RERANKER_YES_TOKEN, RERANKER_NO_TOKEN))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # One query's documents share the prompt prefix: its keys/values are computed once (exact).
    prefix_scorer = (
        make_prefix_scorer(model, yes_id=yes_id, no_id=no_id, pad_id=pad_id, device=device)
        if os.environ.get("QWEN3_RAG_PREFIX_CACHE", "1") != "0"
        else None
    )

    @torch.inference_mode()
    def forward(sequences: list[list[int]]) -> np.ndarray:
        cached = prefix_scorer(sequences) if prefix_scorer is not None else None
        if cached is not None:
            return cached.numpy()
        input_ids, attention_mask = left_pad(sequences, pad_id, device)
        logits = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=1).logits
        pair = logits[:, -1, [no_id, yes_id]].float()
        return torch.log_softmax(pair, dim=1)[:, 1].exp().cpu().numpy()

    return forward


class Qwen3Reranker:
    """Qwen3-Reranker relevance scores in [0, 1], exactly as the official code computes them.

    >>> rr = Qwen3Reranker.load("Qwen/Qwen3-Reranker-0.6B")
    >>> rr.score("capital of France?", ["Paris is the capital.", "Bananas are yellow."])
    [0.98..., 0.00...]
    """

    def __init__(
        self,
        runtime: LoadedModel,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
    ) -> None:
        self.runtime = runtime
        self.instruction = check_instruction(instruction)
        tokenizer = runtime.tokenizer
        self._prefix = tokenizer.encode(RERANKER_PREFIX, add_special_tokens=False)
        self._suffix = tokenizer.encode(RERANKER_SUFFIX, add_special_tokens=False)
        fixed = len(self._prefix) + len(self._suffix)
        self.max_length = check_positive_int(max_length, "max_length", minimum=fixed + 1)
        for token in (RERANKER_YES_TOKEN, RERANKER_NO_TOKEN):
            token_id = tokenizer.convert_tokens_to_ids(token)
            if token_id is None or token_id == tokenizer.unk_token_id:
                raise InvalidOptionError(
                    f"The tokenizer of {runtime.name!r} has no single token {token!r}; it is not "
                    "a Qwen3-Reranker tokenizer."
                )

    @classmethod
    def load(
        cls,
        model: str | os.PathLike[str] = DEFAULT_RERANKER_MODEL,
        *,
        device: str | torch.device | None = "auto",
        dtype: str | torch.dtype | None = "auto",
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
        attn_implementation: str | None = "sdpa",
        batch_tokens: int | None = None,
        max_batch_size: int | None = None,
        max_wait_ms: float = 2.0,
        max_queue_items: int = 100_000,
    ) -> Qwen3Reranker:
        """Load (or reuse) a Qwen3-Reranker checkpoint: a Hub id or a local folder.

        Options mean what they mean for :meth:`Qwen3Embedder.load`; ``instruction`` is the
        default task instruction for :meth:`score`.
        """
        runtime = get_loaded_model(
            model,
            kind="reranker",
            device=device,
            dtype=dtype,
            attn_implementation=attn_implementation,
            batching=BatchingOptions(batch_tokens, max_batch_size, max_wait_ms, max_queue_items),
            make_forward=_make_forward,
        )
        return cls(runtime, max_length=max_length, instruction=instruction)

    def with_options(self, *, max_length: int | None = None, instruction: str | None = None) -> Qwen3Reranker:
        """A view over the same loaded model with some options changed (``None`` keeps one)."""
        if max_length is None and instruction is None:
            return self
        return Qwen3Reranker(
            self.runtime,
            max_length=self.max_length if max_length is None else max_length,
            instruction=self.instruction if instruction is None else instruction,
        )

    @property
    def model(self) -> Any:
        return self.runtime.model

    @property
    def tokenizer(self) -> Any:
        return self.runtime.tokenizer

    @property
    def model_name(self) -> str:
        return self.runtime.name

    def encode_ids(self, bodies: Sequence[str]) -> list[list[int]]:
        """Token ids as the model sees them: whole prefix, body cut from its end, whole suffix."""
        budget = self.max_length - len(self._prefix) - len(self._suffix)
        # verbose=False: transformers' "longer than model_max_length" notice is wrong here; the
        # body is cut to fit below, with our own warning.
        content = self.tokenizer(list(bodies), add_special_tokens=False, verbose=False)["input_ids"]
        if any(len(ids) > budget for ids in content):
            self.runtime.warn_once(
                "truncation",
                f"qwen3-rag: some query/document pairs for {self.runtime.name!r} are longer than "
                f"max_length={self.max_length} tokens; the document end was cut, as the official "
                "code does. Chunk long documents or raise max_length.",
            )
        return [self._prefix + ids[:budget] + self._suffix for ids in content]

    def _bodies(self, query: Any, documents: Any, instruction: str | None) -> list[str]:
        task = self.instruction if instruction is None else check_instruction(instruction)
        text = check_text(query, "query")
        return [format_rerank_body(text, d, task) for d in check_texts(documents, "documents")]

    def _finish(self, scores: np.ndarray) -> list[float]:
        if not np.isfinite(scores).all():
            raise NumericalError(
                f"{self.runtime.name!r} produced NaN/inf in {self.runtime.dtype} for "
                f"{int((~np.isfinite(scores)).sum())} of these {len(scores)} documents, even computed "
                "alone; no score was returned. Load the model with dtype='float32' or 'bfloat16' "
                "(float16 can overflow)."
            )
        return [float(s) for s in scores]

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[float]:
        """P(yes) for each document against ``query``, in the documents' order."""
        bodies = self._bodies(query, documents, instruction)
        return self._finish(self.runtime.batcher.run(bodies, self.encode_ids))

    async def ascore(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> list[float]:
        bodies = self._bodies(query, documents, instruction)
        return self._finish(await self.runtime.batcher.arun(bodies, self.encode_ids))

    def close(self) -> None:
        self.runtime.close()

    def __repr__(self) -> str:
        return (
            f"Qwen3Reranker(model={self.runtime.name!r}, device={str(self.runtime.device)!r}, "
            f"dtype={str(self.runtime.dtype).replace('torch.', '')!r})"
        )
