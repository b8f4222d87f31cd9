"""Token chunks with overlap, measured with the embedding model's own tokenizer.

Chunks are exact slices of the source text (cut at token boundaries via the tokenizer's
character offsets), so what is stored, shown and reranked is the document's own wording.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidOptionError

DEFAULT_CHUNK_TOKENS = 512
DEFAULT_CHUNK_OVERLAP = 64


class TokenChunker:
    """Split text into windows of ``chunk_tokens`` tokens, consecutive windows sharing ``overlap``.

    >>> chunker = TokenChunker(embedder.tokenizer, chunk_tokens=256, overlap=32)
    >>> chunker.split(long_text)
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        overlap: int = DEFAULT_CHUNK_OVERLAP,
    ) -> None:
        if not isinstance(chunk_tokens, int) or chunk_tokens < 1:
            raise InvalidOptionError(f"chunk_tokens must be a positive integer, got {chunk_tokens!r}.")
        if not isinstance(overlap, int) or not 0 <= overlap < chunk_tokens:
            raise InvalidOptionError(
                f"overlap must be an integer from 0 to chunk_tokens - 1 ({chunk_tokens - 1}), "
                f"got {overlap!r}."
            )
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap

    def split(self, text: str) -> list[str]:
        """Non-empty chunks of ``text`` in order (whitespace-only windows are dropped)."""
        if not text.strip():
            return []
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        chunks: list[str] = []
        step = self.chunk_tokens - self.overlap
        start = 0
        while start < len(offsets):
            end = min(start + self.chunk_tokens, len(offsets))
            # The last window ends at the text's end so trailing characters are never lost.
            stop = len(text) if end == len(offsets) else offsets[end - 1][1]
            begin = 0 if start == 0 else offsets[start][0]
            piece = text[begin:stop].strip()
            if piece:
                chunks.append(piece)
            if end == len(offsets):
                break
            start += step
        return chunks
