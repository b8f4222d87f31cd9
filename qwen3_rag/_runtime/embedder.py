"""Qwen3-Embedding: the official procedure (docs/reference.md, "Embedding") over a local or remote backend.

Procedure (:class:`~.procedure.EmbeddingProcedure`): queries become
``Instruct: {instruction}\\nQuery:{query}``, documents stay as they are; tokens are taken without
special tokens, cut to ``max_length - 1`` and end with exactly one ``<|endoftext|>`` (whether or
not the tokenizer's post-processor would add it); the backend gives the last position's hidden
state; the first ``dimensions`` components (MRL); L2 normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .._prompts import DEFAULT_QUERY_INSTRUCTION
from .backend import Backend
from .model import Qwen3Model
from .procedure import EmbeddingProcedure
from .registry import LoadedModel
from .validation import check_dimensions

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
DEFAULT_MAX_LENGTH = 8192


class Qwen3Embedder(Qwen3Model):
    """Qwen3-Embedding vectors, exactly as the official code computes them.

    >>> emb = Qwen3Embedder.load("Qwen/Qwen3-Embedding-0.6B")
    >>> doc_vectors = emb.embed_documents(["Paris is the capital of France."])
    >>> query_vectors = emb.embed_queries(["capital of France?"])
    >>> scores = query_vectors @ doc_vectors.T          # cosine similarity

    The same model served by ``qwen3-rag serve`` (or vLLM) gives the same vectors; the
    procedure runs here and only the forward pass runs on the server:

    >>> emb = Qwen3Embedder.load("Qwen/Qwen3-Embedding-0.6B", base_url="http://gpu-box:8000/v1")

    Objects are cheap views over a shared backend: loading the same model on the same device and
    dtype again (from any thread or adapter) reuses its weights and batcher.
    """

    default_model: ClassVar[str] = DEFAULT_EMBEDDING_MODEL
    kind: ClassVar = "embedding"
    procedure_type: ClassVar = EmbeddingProcedure
    _options: ClassVar[tuple[str, ...]] = ("dimensions", "max_length", "instruction")
    procedure: EmbeddingProcedure

    def __init__(
        self,
        backend: Backend | LoadedModel,
        *,
        dimensions: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
    ) -> None:
        super().__init__(backend, max_length=max_length, instruction=instruction)
        self.dimensions = check_dimensions(dimensions, self.backend.hidden_size, self.backend.name)

    def with_options(  # type: ignore[override]
        self,
        *,
        dimensions: int | None = None,
        max_length: int | None = None,
        instruction: str | None = None,
    ) -> Qwen3Embedder:
        """A view over the same model with some options changed (``None`` keeps one)."""
        return super().with_options(dimensions=dimensions, max_length=max_length, instruction=instruction)

    # ----------------------------------------------------------------- properties
    @property
    def hidden_size(self) -> int:
        """The full vector size (remote: the size the server serves)."""
        return self.backend.hidden_size

    # ----------------------------------------------------------------- procedure
    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids exactly as the model sees them (content cut to fit, one final end token)."""
        return self.procedure.tokenize(texts)

    def encode_token_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[int]]:
        """Token-id inputs as the model sees them (see :meth:`EmbeddingProcedure.tokenize_ids`)."""
        return self.procedure.tokenize_ids(sequences)

    def _query_texts(self, queries: Any, instruction: str | None) -> list[str]:
        return self.procedure.format_queries(queries, instruction)

    def _finish(self, rows: np.ndarray, count: int) -> np.ndarray:
        return self.procedure.finish(rows, count, self.dimensions)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, shape ``(len(texts), dimensions)``, input order."""
        items = self.procedure.format_documents(texts)
        return self._finish(self.backend.embed(items, self.procedure.tokenize, self.dimensions), len(items))

    def embed_queries(self, queries: Sequence[str], instruction: str | None = None) -> np.ndarray:
        """Like :meth:`embed_documents`, with the task instruction put before each query."""
        items = self.procedure.format_queries(queries, instruction)
        return self._finish(self.backend.embed(items, self.procedure.tokenize, self.dimensions), len(items))

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        items = self.procedure.format_documents(texts)
        rows = await self.backend.aembed(items, self.procedure.tokenize, self.dimensions)
        return self._finish(rows, len(items))

    async def aembed_queries(self, queries: Sequence[str], instruction: str | None = None) -> np.ndarray:
        items = self.procedure.format_queries(queries, instruction)
        rows = await self.backend.aembed(items, self.procedure.tokenize, self.dimensions)
        return self._finish(rows, len(items))

    def embed_token_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Vectors for pre-tokenized documents (see :meth:`encode_token_ids`), input order."""
        items = self.procedure.check_token_ids(sequences, self.backend.vocabulary)
        rows = self.backend.embed(items, self.procedure.tokenize_ids, self.dimensions)
        return self._finish(rows, len(items))

    async def aembed_token_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        items = self.procedure.check_token_ids(sequences, self.backend.vocabulary)
        rows = await self.backend.aembed(items, self.procedure.tokenize_ids, self.dimensions)
        return self._finish(rows, len(items))

    def _repr_options(self) -> str:
        return f", dimensions={self.dimensions}"
