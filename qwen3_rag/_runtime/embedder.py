"""Qwen3-Embedding: the official procedure (docs/reference.md, "Embedding") over a local or remote backend.

Procedure (:class:`~.procedure.EmbeddingProcedure`): queries become
``Instruct: {instruction}\\nQuery:{query}``, documents stay as they are; tokens are taken without
special tokens, cut to ``max_length - 1`` and end with exactly one ``<|endoftext|>`` (whether or
not the tokenizer's post-processor would add it); the backend gives the last position's hidden
state; the first ``dimensions`` components (MRL); L2 normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._prompts import DEFAULT_QUERY_INSTRUCTION
from .base import Backend, Qwen3Model, RemoteOptions, open_backend
from .procedure import EmbeddingProcedure
from .remote import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S
from .shared import BatchingOptions, LoadedModel
from .validation import check_dimensions

if TYPE_CHECKING:
    import torch

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

    kind: ClassVar = "embedding"
    _options: ClassVar[tuple[str, ...]] = ("dimensions", "max_length", "instruction")

    def __init__(
        self,
        runtime: Backend | LoadedModel,
        *,
        dimensions: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
    ) -> None:
        super().__init__(runtime)
        backend = self.backend
        self.dimensions = check_dimensions(dimensions, backend.hidden_size, backend.name)
        self.procedure = EmbeddingProcedure(
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
        model: str | os.PathLike[str] = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str | torch.device | None = "auto",
        dtype: str | torch.dtype | None = "auto",
        quantize: str | None = None,
        dimensions: int | None = None,
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
    ) -> Qwen3Embedder:
        """Load (or reuse) a Qwen3-Embedding checkpoint: a Hub id or a local folder.

        ``dimensions`` picks a Matryoshka size (32 to the hidden size); ``instruction`` is the
        default for :meth:`embed_queries`; ``batch_tokens`` (padded tokens per forward pass),
        ``max_batch_size``, ``max_wait_ms`` and ``max_queue_items`` configure the shared
        micro-batcher and are decided by the first load of the model in the process: a later load
        that asks for other values gets them ignored, with a
        :class:`~qwen3_rag.SharedBatcherWarning` naming the settings in force.

        ``quantize="int8"`` (CPU, float32) runs the decoder's linear layers in dynamic int8:
        faster than float32 and bf16 here, but not faithful to the reference (the measured
        speed and accuracy are in docs/benchmarks.md, "CPU dtypes and int8"); it is its own entry
        in the process-wide cache, beside an unquantized load of the same checkpoint.

        With ``base_url`` (e.g. ``"http://host:8000/v1"``) the model runs on that server
        (``qwen3-rag serve``, or vLLM's ``/v1/embeddings``): only the tokenizer is loaded here,
        from ``model``. ``api_key`` (default ``$QWEN3_RAG_API_KEY``) is sent as a bearer token;
        ``timeout`` bounds each call in seconds, retries included; ``max_retries`` retries
        connection errors, 429 and 503; ``served_model`` is the name the server knows the model
        by (default: found in its ``/v1/models``); ``api`` is ``"auto"``, ``"qwen3-rag"`` or
        ``"vllm"``. Errors are :class:`~qwen3_rag._errors.RemoteBackendError`.
        """
        backend = open_backend(
            model,
            "embedding",
            device=device,
            dtype=dtype,
            attn_implementation=attn_implementation,
            batching=BatchingOptions(batch_tokens, max_batch_size, max_wait_ms, max_queue_items),
            remote=RemoteOptions(base_url, api_key, timeout, max_retries, served_model, api),
            quantize=quantize,
        )
        return cls(backend, dimensions=dimensions, max_length=max_length, instruction=instruction)

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
    def max_length(self) -> int:
        """Tokens per text, end token included; longer texts are cut from their end."""
        return self.procedure.max_length

    @property
    def instruction(self) -> str:
        """The default task instruction put before queries."""
        return self.procedure.instruction

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
