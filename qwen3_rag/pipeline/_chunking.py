"""Token chunks with overlap, measured with the embedding model's own tokenizer.

Chunks are exact slices of the source text (cut at token boundaries via the tokenizer's
character offsets), so what is stored, shown and reranked is the document's own wording.

Text can arrive in pieces (:meth:`TokenChunker.iter_chunks`), so a file of any size is chunked
in bounded memory. Each piece is tokenized only up to a *safe cut*: a position that the Qwen
pre-tokenizer splits at whatever follows, so the tokens before it are exactly those of the whole
text. Streaming therefore yields the same chunks as tokenizing the whole text at once.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from .._errors import InvalidOptionError
from .._runtime.validation import check_positive_int

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_TOKENS = 512
DEFAULT_CHUNK_OVERLAP = 64
# Text past a safe cut that is kept back for the next piece: the pre-tokenizer looks one
# character ahead, this leaves a wide berth.
_CUT_MARGIN = 64
# Text with no safe cut at all (one enormous "word": base64, minified data) is cut at a token
# boundary after this many characters; tokens at such a cut may differ from whole-text ones.
_MAX_UNCUT_CHARS = 4 * 1024 * 1024


def _is_safe_cut(text: str, i: int) -> bool:
    """Whether the Qwen (and GPT-2 style) pre-tokenizer splits ``text`` at ``i`` regardless of the rest.

    Two patterns qualify: a letter or digit, a space, then a letter (the space starts the next
    word's pre-token: " word"); and a newline followed by a letter (a newline run always ends a
    pre-token, and a letter-initial word never takes a newline as its prefix).
    """
    if i < 1 or i + 1 >= len(text):
        return False
    here = text[i]
    if here == " ":
        return unicodedata.category(text[i - 1])[0] in "LN" and unicodedata.category(text[i + 1])[0] == "L"
    return text[i - 1] == "\n" and unicodedata.category(here)[0] == "L"


def _last_safe_cut(text: str, lo: int, hi: int) -> int | None:
    for i in range(hi, lo, -1):
        if _is_safe_cut(text, i):
            return i
    return None


class Chunk(NamedTuple):
    """A chunk's text and where it lies in the whole text: ``text == whole[start:end]``."""

    text: str
    start: int
    end: int


class TokenChunker:
    """Split text into windows of ``chunk_tokens`` tokens, consecutive windows sharing ``overlap``.

    >>> chunker = TokenChunker(embedder.tokenizer, chunk_tokens=256, overlap=32)
    >>> chunker.split(long_text)
    >>> for chunk in chunker.iter_chunks(pieces_of_a_huge_file): ...
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        overlap: int = DEFAULT_CHUNK_OVERLAP,
    ) -> None:
        check_positive_int(chunk_tokens, "chunk_tokens")
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
        return list(self.iter_chunks([text]))

    def _offsets(self, text: str, base: int) -> list[tuple[int, int]]:
        # verbose=False: a whole document is longer than the model's context on purpose; the
        # tokenizer's "longer than the specified maximum" warning is about model inputs.
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(base + start, base + end) for start, end in encoded["offset_mapping"]]

    def iter_chunks(self, pieces: Iterable[str]) -> Iterator[str]:
        """The chunks of ``"".join(pieces)``, produced as the pieces arrive (bounded memory)."""
        for chunk in self.iter_spans(pieces):
            yield chunk.text

    def iter_spans(self, pieces: Iterable[str]) -> Iterator[Chunk]:
        """:meth:`iter_chunks` with each chunk's character span in the whole text (for provenance)."""
        step = self.chunk_tokens - self.overlap
        text = ""  # the text from global position `base` on
        base = 0
        offsets: list[tuple[int, int]] = []  # final tokens from the current window on, global offsets
        first = 0  # global index of the current window's first token, offsets[0]
        final_to = 0  # global position up to which tokens are final
        scanned_to = 0  # global position up to which safe cuts were looked for
        for piece in pieces:
            text += piece
            lo = max(final_to, scanned_to) - base
            scanned_to = base + max(len(text) - _CUT_MARGIN, lo)
            cut = _last_safe_cut(text, lo, scanned_to - base)
            if cut is None:
                if base + len(text) - final_to < _MAX_UNCUT_CHARS:
                    continue  # read on until a safe cut shows up
                tail = self._offsets(text[final_to - base :], final_to)
                cut = tail[-2][1] - base if len(tail) > 1 else len(text)
                logger.info("qwen3-rag: no safe token cut in %d characters; cut at a token edge", len(text))
            offsets += self._offsets(text[final_to - base : cut], final_to)
            final_to = base + cut
            # Windows that end before the last final token are not the text's last one: emit them.
            at = 0
            while len(offsets) - at > self.chunk_tokens:
                yield from self._window(text, base, offsets[at : at + self.chunk_tokens], first, None)
                at += step
                first += step
            offsets = offsets[at:]
            if first > 0:  # keep only the text the current window can still cover
                text = text[offsets[0][0] - base :]
                base = offsets[0][0]
        offsets += self._offsets(text[final_to - base :], final_to)
        if first == 0 and not text.strip():
            return
        end_of_text = base + len(text)
        while offsets:
            yield from self._window(text, base, offsets, first, end_of_text=end_of_text)
            if len(offsets) <= self.chunk_tokens:
                break
            offsets = offsets[step:]
            first += step

    def _window(
        self, text: str, base: int, offsets: list[tuple[int, int]], first: int, end_of_text: int | None
    ) -> Iterator[Chunk]:
        """The chunk of the window starting at ``offsets[0]`` (the text's last window: ``end_of_text``)."""
        count = min(self.chunk_tokens, len(offsets))
        stop = offsets[count - 1][1] - base
        if end_of_text is not None and count == len(offsets):
            stop = end_of_text - base  # the last window runs to the end: no trailing text is lost
        begin = 0 if first == 0 else offsets[0][0] - base
        window = text[begin:stop]
        piece = window.strip()
        if piece:
            start = base + begin + (len(window) - len(window.lstrip()))
            yield Chunk(piece, start, start + len(piece))
