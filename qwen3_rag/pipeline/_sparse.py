"""Sparse term vectors for hybrid search, from the Qwen tokenizer alone (no extra model).

A text becomes ``{token id: weight}`` over the embedding model's own vocabulary. Qdrant's IDF
modifier supplies the inverse document frequency at query time, so what is stored is only the
term-frequency part, saturated as in BM25 (``k1 = 1.2``, no length normalisation) so that a word
repeated ten times does not outweigh ten different matching words. Text is lower-cased and split
into words first, each given a leading space, so "Paris", "paris" and " Paris" map to the same
tokens (byte-level BPE would otherwise give a sentence's first word different ids).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

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
