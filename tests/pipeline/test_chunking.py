"""Token chunks and sparse term vectors on the tiny tokenizer (fast layer). Streaming equivalence
on random texts and the real vocabulary is tests/pipeline/test_chunking_streaming.py's."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from qwen3_rag import InvalidOptionError
from qwen3_rag.pipeline import TokenChunker
from qwen3_rag.pipeline._sparse import sparse_vectors, term_weights

TEXT = " ".join(f"word{i}" for i in range(60)) + ".\n\nThe end of the text."


def token_count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@pytest.fixture
def tokenizer(tiny_tokenizers: dict[str, Any]) -> Any:
    return tiny_tokenizers["embedding"]


@pytest.mark.parametrize(
    ("chunk_tokens", "overlap", "pattern"),
    [
        (0, 0, "chunk_tokens must be a positive integer"),
        (16, 16, r"overlap must be an integer from 0 to chunk_tokens - 1 \(15\)"),
        (16, -1, "overlap must be an integer"),
        (16.0, 4, "chunk_tokens"),
    ],
)
def test_bad_sizes_are_refused(tokenizer: Any, chunk_tokens: Any, overlap: int, pattern: str) -> None:
    with pytest.raises(InvalidOptionError, match=pattern):
        TokenChunker(tokenizer, chunk_tokens=chunk_tokens, overlap=overlap)


def test_chunks_are_slices_of_the_text_within_the_size(tokenizer: Any) -> None:
    chunks = TokenChunker(tokenizer, chunk_tokens=20, overlap=5).split(TEXT)
    assert len(chunks) > 3
    position = 0
    for chunk in chunks:
        position = TEXT.index(chunk, position)  # in order, as the text's own wording
        assert token_count(tokenizer, chunk) <= 20
    assert TEXT.startswith(chunks[0]) and TEXT.endswith(chunks[-1])


def test_neighbours_share_the_overlap(tokenizer: Any) -> None:
    text = " ".join(f"w{i}" for i in range(40))
    no_overlap = TokenChunker(tokenizer, chunk_tokens=10, overlap=0).split(text)
    with_overlap = TokenChunker(tokenizer, chunk_tokens=10, overlap=4).split(text)
    assert "".join(no_overlap).replace(" ", "") == text.replace(" ", "")  # a partition of the tokens
    assert len(with_overlap) > len(no_overlap)
    starts = [text.index(chunk) for chunk in with_overlap]
    ends = [start + len(chunk) for start, chunk in zip(starts, with_overlap, strict=True)]
    assert starts == sorted(starts) and ends[-1] == len(text)
    assert all(starts[k + 1] < ends[k] for k in range(len(starts) - 1))  # each starts inside the last


def test_short_empty_and_blank_texts(tokenizer: Any) -> None:
    chunker = TokenChunker(tokenizer, chunk_tokens=50, overlap=10)
    assert chunker.split("  a short text \n") == ["a short text"]
    assert chunker.split("") == [] and chunker.split(" \n\t ") == []


def test_pieces_give_the_chunks_of_the_whole_text(tokenizer: Any) -> None:
    chunker = TokenChunker(tokenizer, chunk_tokens=12, overlap=3)
    pieces = [TEXT[i : i + 7] for i in range(0, len(TEXT), 7)]
    assert list(chunker.iter_chunks(pieces)) == chunker.split(TEXT)


# ----------------------------------------------------------------------------- sparse vectors
def test_term_weights_ignore_case_and_position_and_saturate(tokenizer: Any) -> None:
    once, upper, later = term_weights(tokenizer, ["Paris", "PARIS!", "the capital: paris"])
    assert once == upper and set(once) < set(later)  # "Paris" first or later, any case: the same ids
    counts = Counter(tokenizer(" paris", add_special_tokens=False)["input_ids"])
    assert once == {i: pytest.approx(c * 2.2 / (c + 1.2)) for i, c in counts.items()}
    (thrice,) = term_weights(tokenizer, ["paris Paris PARIS"])
    assert thrice == {i: pytest.approx(3 * c * 2.2 / (3 * c + 1.2)) for i, c in counts.items()}  # not 3x
    (query,) = term_weights(tokenizer, ["paris paris"], query=True)
    assert query == dict.fromkeys(counts, 1.0)
    assert term_weights(tokenizer, []) == []


def test_sparse_vectors_have_sorted_indices_and_matching_values(tokenizer: Any) -> None:
    (vector,) = sparse_vectors(tokenizer, ["the quick brown fox, the lazy dog"])
    (weights,) = term_weights(tokenizer, ["the quick brown fox, the lazy dog"])
    assert vector.indices == sorted(weights) and vector.values == [weights[i] for i in sorted(weights)]
