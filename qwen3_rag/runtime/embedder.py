"""Qwen3-Embedding: the official procedure (REFERENCE.md) behind a shared, batched runtime.

Procedure: queries become ``Instruct: {instruction}\\nQuery:{query}``, documents stay as they
are; tokens are taken without special tokens, cut to ``max_length - 1`` and end with exactly
one ``<|endoftext|>`` (whether or not the tokenizer's post-processor would add it); left
padding; the last position's hidden state; the first ``dimensions`` components (MRL); L2
normalisation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import InvalidOptionError, NumericalError
from ..prompts import DEFAULT_QUERY_INSTRUCTION, EMBEDDING_END_TOKEN, format_query
from .loading import BatchingOptions, LoadedModel, get_loaded_model
from .tensors import left_pad
from .validation import (
    check_dimensions,
    check_instruction,
    check_positive_int,
    check_texts,
)

DEFAULT_EMBEDDING_MODEL = "Qwen/Qwen3-Embedding-0.6B"
DEFAULT_MAX_LENGTH = 8192


def _make_forward(
    model: Any, tokenizer: Any, device: torch.device
) -> Callable[[list[list[int]]], np.ndarray]:
    pad_id = tokenizer.convert_tokens_to_ids(EMBEDDING_END_TOKEN)

    @torch.inference_mode()
    def forward(sequences: list[list[int]]) -> np.ndarray:
        input_ids, attention_mask = left_pad(sequences, pad_id, device)
        hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return hidden[:, -1, :].float().cpu().numpy()

    return forward


class Qwen3Embedder:
    """Qwen3-Embedding vectors, exactly as the official code computes them.

    >>> emb = Qwen3Embedder.load("Qwen/Qwen3-Embedding-0.6B")
    >>> doc_vectors = emb.embed_documents(["Paris is the capital of France."])
    >>> query_vectors = emb.embed_queries(["capital of France?"])
    >>> scores = query_vectors @ doc_vectors.T          # cosine similarity

    Objects are cheap views over a shared :class:`LoadedModel`: loading the same model on the
    same device and dtype again (from any thread or adapter) reuses its weights and batcher.
    """

    def __init__(
        self,
        runtime: LoadedModel,
        *,
        dimensions: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
    ) -> None:
        self.runtime = runtime
        self.dimensions = check_dimensions(dimensions, runtime.hidden_size, runtime.name)
        self.max_length = check_positive_int(max_length, "max_length", minimum=2)
        self.instruction = check_instruction(instruction)
        self._end_id = int(runtime.tokenizer.convert_tokens_to_ids(EMBEDDING_END_TOKEN))

    @classmethod
    def load(
        cls,
        model: str | os.PathLike[str] = DEFAULT_EMBEDDING_MODEL,
        *,
        device: str | torch.device | None = "auto",
        dtype: str | torch.dtype | None = "auto",
        dimensions: int | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
        attn_implementation: str | None = "sdpa",
        batch_tokens: int | None = None,
        max_batch_size: int | None = None,
        max_wait_ms: float = 2.0,
        max_queue_items: int = 100_000,
    ) -> Qwen3Embedder:
        """Load (or reuse) a Qwen3-Embedding checkpoint: a Hub id or a local folder.

        ``dimensions`` picks a Matryoshka size (32 to the hidden size); ``instruction`` is the
        default for :meth:`embed_queries`; ``batch_tokens`` (padded tokens per forward pass),
        ``max_batch_size``, ``max_wait_ms`` and ``max_queue_items`` configure the shared
        micro-batcher and are decided by the first load of the model.
        """
        runtime = get_loaded_model(
            model,
            kind="embedding",
            device=device,
            dtype=dtype,
            attn_implementation=attn_implementation,
            batching=BatchingOptions(batch_tokens, max_batch_size, max_wait_ms, max_queue_items),
            make_forward=_make_forward,
        )
        return cls(runtime, dimensions=dimensions, max_length=max_length, instruction=instruction)

    def with_options(
        self,
        *,
        dimensions: int | None = None,
        max_length: int | None = None,
        instruction: str | None = None,
    ) -> Qwen3Embedder:
        """A view over the same loaded model with some options changed (``None`` keeps one)."""
        if dimensions is None and max_length is None and instruction is None:
            return self
        return Qwen3Embedder(
            self.runtime,
            dimensions=self.dimensions if dimensions is None else dimensions,
            max_length=self.max_length if max_length is None else max_length,
            instruction=self.instruction if instruction is None else instruction,
        )

    # ----------------------------------------------------------------- properties
    @property
    def model(self) -> Any:
        """The loaded transformers model (shared with every other user of it)."""
        return self.runtime.model

    @property
    def tokenizer(self) -> Any:
        return self.runtime.tokenizer

    @property
    def model_name(self) -> str:
        return self.runtime.name

    @property
    def fingerprint(self) -> str:
        """A digest of the weights: equal for copies of one model, different for other models."""
        return self.runtime.fingerprint

    @property
    def hidden_size(self) -> int:
        return self.runtime.hidden_size

    # ----------------------------------------------------------------- procedure
    def encode_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids exactly as the model sees them (content cut to fit, one final end token)."""
        budget = self.max_length - 1
        # verbose=False: transformers' "longer than model_max_length" notice is wrong here; the
        # content is cut to max_length below, with our own warning.
        content = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        if any(len(ids) > budget for ids in content):
            self.runtime.warn_once(
                "truncation",
                f"qwen3-rag: some inputs to {self.runtime.name!r} are longer than max_length="
                f"{self.max_length} tokens and were truncated from the end, as the official code "
                "does. Chunk long documents or raise max_length (the model allows 32768).",
            )
        return [ids[:budget] + [self._end_id] for ids in content]

    def encode_token_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[int]]:
        """Token-id inputs as the model sees them: the same rule as :meth:`encode_ids`.

        One final ``<|endoftext|>``, appended only if the sequence does not already end with it
        (ids from a tokenizer with the post-processor have it); the content before it is cut to
        ``max_length - 1`` tokens.
        """
        budget = self.max_length - 1
        content = [list(ids[:-1]) if ids and ids[-1] == self._end_id else list(ids) for ids in sequences]
        if any(len(ids) > budget for ids in content):
            self.runtime.warn_once(
                "truncation",
                f"qwen3-rag: some token-id inputs to {self.runtime.name!r} are longer than "
                f"max_length={self.max_length} tokens and were truncated from the end.",
            )
        return [ids[:budget] + [self._end_id] for ids in content]

    def _check_token_ids(self, sequences: Any) -> list[list[int]]:
        # Checked before queueing: an id past the embedding table would fail the whole shared batch.
        limit = int(self.model.get_input_embeddings().num_embeddings)
        if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
            raise TypeError(f"token_ids must be a list of lists of ints, got {type(sequences).__name__}.")
        items = [list(ids) if isinstance(ids, (list, tuple)) else ids for ids in sequences]
        for index, ids in enumerate(items):
            if not isinstance(ids, list) or not all(type(i) is int for i in ids):
                raise TypeError(f"token_ids[{index}] must be a list of ints, got {ids!r:.60}.")
            if ids and (min(ids) < 0 or max(ids) >= limit):
                raise InvalidOptionError(
                    f"token_ids[{index}] holds an id outside 0..{limit - 1}, the token ids of "
                    f"{self.runtime.name!r}; tokenize with this model's tokenizer."
                )
        return items

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text costs as a document (without truncation, with the end token)."""
        # Counting only: nothing this long reaches the model, so no "model_max_length" notice.
        content = self.tokenizer(check_texts(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) + 1 for ids in content]

    def _finish(self, hidden: np.ndarray, count: int) -> np.ndarray:
        if count == 0:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if not np.isfinite(hidden).all():
            raise NumericalError(
                f"{self.runtime.name!r} produced NaN/inf in {self.runtime.dtype} for "
                f"{int((~np.isfinite(hidden).all(axis=1)).sum())} of these {count} texts, even "
                "computed alone; no vector was returned. Load the model with dtype='float32' or "
                "'bfloat16' (float16 can overflow)."
            )
        sliced = np.ascontiguousarray(hidden[:, : self.dimensions], dtype=np.float32)
        norms = np.linalg.norm(sliced, axis=1, keepdims=True)
        return sliced / np.maximum(norms, 1e-12)

    def _query_texts(self, queries: Any, instruction: str | None) -> list[str]:
        task = self.instruction if instruction is None else check_instruction(instruction)
        return [format_query(q, task) for q in check_texts(queries, "queries")]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, shape ``(len(texts), dimensions)``, input order."""
        items = check_texts(texts)
        return self._finish(self.runtime.batcher.run(items, self.encode_ids), len(items))

    def embed_queries(self, queries: Sequence[str], instruction: str | None = None) -> np.ndarray:
        """Like :meth:`embed_documents`, with the task instruction put before each query."""
        items = self._query_texts(queries, instruction)
        return self._finish(self.runtime.batcher.run(items, self.encode_ids), len(items))

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        return self._finish(await self.runtime.batcher.arun(items, self.encode_ids), len(items))

    async def aembed_queries(self, queries: Sequence[str], instruction: str | None = None) -> np.ndarray:
        items = self._query_texts(queries, instruction)
        return self._finish(await self.runtime.batcher.arun(items, self.encode_ids), len(items))

    def embed_token_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Vectors for pre-tokenized documents (see :meth:`encode_token_ids`), input order."""
        items = self._check_token_ids(sequences)
        return self._finish(self.runtime.batcher.run(items, self.encode_token_ids), len(items))

    async def aembed_token_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        items = self._check_token_ids(sequences)
        return self._finish(await self.runtime.batcher.arun(items, self.encode_token_ids), len(items))

    def close(self) -> None:
        """Close the shared runtime of this model (every view of it); pending work is failed."""
        self.runtime.close()

    def __repr__(self) -> str:
        return (
            f"Qwen3Embedder(model={self.runtime.name!r}, device={str(self.runtime.device)!r}, "
            f"dtype={str(self.runtime.dtype).replace('torch.', '')!r}, dimensions={self.dimensions})"
        )
