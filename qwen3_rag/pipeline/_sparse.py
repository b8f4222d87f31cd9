"""Sparse term vectors for hybrid search, from the Qwen tokenizer alone (no extra model).

A text becomes ``{token id: weight}`` over the embedding model's own vocabulary. Qdrant's IDF
modifier supplies the inverse document frequency at query time, so what is stored is only the
term-frequency part, saturated as in BM25 (``k1 = 1.2``, no length normalisation) so that a word
repeated ten times does not outweigh ten different matching words. Text is lower-cased and split
into words first, each given a leading space, so "Paris", "paris" and " Paris" map to the same
tokens (byte-level BPE would otherwise give a sentence's first word different ids).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .._errors import InvalidOptionError
from .._runtime import Qwen3Embedder
from .._runtime.remote import load_tokenizer

K1 = 1.2
_WORD = re.compile(r"\w+", re.UNICODE)


def _normalise(text: str) -> str:
    return "".join(" " + word for word in _WORD.findall(text.lower()))


def term_weights(tokenizer: Any, texts: Sequence[str], *, query: bool = False) -> list[dict[int, float]]:
    """``{token id: weight}`` per text: saturated counts for documents, 1.0 per term for queries."""
    normalised = [_normalise(t) for t in texts]
    ids_per_text = tokenizer(normalised, add_special_tokens=False)["input_ids"] if normalised else []
    out: list[dict[int, float]] = []
    for ids in ids_per_text:
        counts = Counter(int(i) for i in ids)
        if query:
            out.append(dict.fromkeys(counts, 1.0))
        else:
            out.append({i: c * (K1 + 1.0) / (c + K1) for i, c in counts.items()})
    return out


def sparse_vectors(tokenizer: Any, texts: Sequence[str], *, query: bool = False) -> list[Any]:
    """Qdrant ``SparseVector`` objects (sorted indices) for ``texts``."""
    from qdrant_client import models

    vectors = []
    for weights in term_weights(tokenizer, texts, query=query):
        indices = sorted(weights)
        vectors.append(models.SparseVector(indices=indices, values=[weights[i] for i in indices]))
    return vectors


class SparseEncoder:
    """The sparse vectors of a qwen3-rag collection, for the frameworks' own Qdrant stores.

    Exactly the vectors ``qwen3-rag ingest`` writes and ``TwoStageRetriever(hybrid=True)`` queries
    with: the embedding model's own tokenizer terms, BM25-saturated counts for documents and 1.0
    per term for queries (the collection's IDF modifier supplies the inverse document frequency).

    >>> encoder = SparseEncoder.for_model("Qwen/Qwen3-Embedding-0.6B")   # the tokenizer files only
    >>> encoder.documents(["Paris is the capital of France."])[0].indices
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def for_model(cls, source: Any, *, owner: str = "The qwen3-rag sparse encoder") -> SparseEncoder:
        """The encoder of the collection's embedding model: a Hub id or folder (only its tokenizer
        is loaded), a loaded ``Qwen3Embedder``, an adapter holding one (``.embedder``), or a Hugging
        Face tokenizer. ``owner`` names the caller in the error for anything else."""
        embedder = getattr(source, "embedder", source)  # the adapters hold one
        if isinstance(embedder, Qwen3Embedder):
            return cls(embedder.tokenizer)
        if isinstance(source, str | os.PathLike):
            return cls(load_tokenizer(os.fspath(source)))
        if callable(source) and hasattr(source, "convert_tokens_to_ids"):  # a Hugging Face tokenizer
            return cls(source)
        raise InvalidOptionError(
            f"{owner} needs a tokenizer source, got {type(source).__name__}: pass the collection's "
            "embedding model as a Hub id or folder, a loaded qwen3_rag.Qwen3Embedder, an embeddings "
            "adapter holding one (Qwen3Embeddings, Qwen3Embedding), or a Hugging Face tokenizer."
        )

    def documents(self, texts: Sequence[str]) -> list[Any]:
        """Document vectors (saturated term counts), as Qdrant ``SparseVector`` objects."""
        return sparse_vectors(self.tokenizer, texts)

    def queries(self, texts: Sequence[str]) -> list[Any]:
        """Query vectors: 1.0 per distinct term (the collection's IDF modifier weighs them)."""
        return sparse_vectors(self.tokenizer, texts, query=True)
