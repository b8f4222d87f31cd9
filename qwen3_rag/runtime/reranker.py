"""Qwen3-Reranker: the official yes/no procedure (REFERENCE.md) over a local or remote backend.

Procedure (:class:`~.procedure.RerankProcedure`): ids = prefix + body + suffix, where prefix and
suffix are the fixed chat-template pieces and body is
``<Instruct>: ...\\n<Query>: ...\\n<Document>: ...`` tokenized without special tokens and cut from
its end so the whole fits ``max_length``; the backend gives softmax([logit("no"),
logit("yes")])[1] at the last position.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import ClassVar

import torch

from ..prompts import DEFAULT_QUERY_INSTRUCTION
from .base import Backend, Qwen3Model
from .loading import BatchingOptions, LoadedModel
from .local import LocalBackend
from .procedure import RerankProcedure
from .remote import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, RemoteBackend, check_local_options

DEFAULT_RERANKER_MODEL = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_MAX_LENGTH = 8192


class Qwen3Reranker(Qwen3Model):
    """Qwen3-Reranker relevance scores in [0, 1], exactly as the official code computes them.

    >>> rr = Qwen3Reranker.load("Qwen/Qwen3-Reranker-0.6B")
    >>> rr.score("capital of France?", ["Paris is the capital.", "Bananas are yellow."])
    [0.98..., 0.00...]

    ``Qwen3Reranker.load(model, base_url="http://host:8000/v1")`` scores on a server instead.
    """

    kind: ClassVar = "reranker"

    def __init__(
        self,
        runtime: Backend | LoadedModel,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
    ) -> None:
        super().__init__(runtime)
        backend = self.backend
        self.procedure = RerankProcedure(
            backend.tokenizer,
            name=backend.name,
            max_length=max_length,
            instruction=instruction,
            warn=backend.warn_once,
            describe=backend.describe,
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
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        served_model: str | None = None,
        api: str = "auto",
    ) -> Qwen3Reranker:
        """Load (or reuse) a Qwen3-Reranker checkpoint: a Hub id or a local folder.

        Options mean what they mean for :meth:`Qwen3Embedder.load` (``base_url`` and the options
        after it included: ``qwen3-rag serve``'s ``/v1/rerank``, or vLLM's ``/rerank`` with the
        template applied here); ``instruction`` is the default task instruction for :meth:`score`.
        """
        backend: Backend
        if base_url is not None:
            check_local_options(device=device, dtype=dtype)
            backend = RemoteBackend.connect(
                model,
                kind="reranker",
                base_url=base_url,
                api_key=api_key,
                timeout=timeout,
                max_retries=max_retries,
                served_model=served_model,
                api=api,
            )
        else:
            backend = LocalBackend.load(
                model,
                kind="reranker",
                device=device,
                dtype=dtype,
                attn_implementation=attn_implementation,
                batching=BatchingOptions(batch_tokens, max_batch_size, max_wait_ms, max_queue_items),
            )
        return cls(backend, max_length=max_length, instruction=instruction)

    def with_options(  # type: ignore[override]
        self, *, max_length: int | None = None, instruction: str | None = None
    ) -> Qwen3Reranker:
        """A view over the same model with some options changed (``None`` keeps one)."""
        return super().with_options(max_length=max_length, instruction=instruction)

    @property
    def max_length(self) -> int:
        """Tokens per query/document pair; the document end is cut when a pair is longer."""
        return self.procedure.max_length

    @property
    def instruction(self) -> str:
        """The default task instruction."""
        return self.procedure.instruction

    def encode_ids(self, bodies: Sequence[str]) -> list[list[int]]:
        """Token ids as the model sees them: whole prefix, body cut from its end, whole suffix."""
        return self.procedure.tokenize(bodies)

    def _bodies(self, query: str, documents: Sequence[str], instruction: str | None) -> list[str]:
        return self.procedure.format(query, documents, instruction)

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[float]:
        """P(yes) for each document against ``query``, in the documents' order."""
        return self.procedure.finish(
            self.backend.score(self.procedure.prepare(query, documents, instruction))
        )

    async def ascore(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> list[float]:
        request = self.procedure.prepare(query, documents, instruction)
        return self.procedure.finish(await self.backend.ascore(request))
