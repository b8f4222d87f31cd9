"""Where a chunk came from inside its document: pages for paged formats, heading paths for structured ones.

A reader marks positions in the document's text (:class:`Mark`: from this character on, we are on
page 12, under "Install > Linux"); a chunk, an exact slice ``text[start:end]``, then gets the page of
its first and last character and the heading path in force at its first character
(:class:`Provenance`). The marks are few (one per page or heading), so they sit in memory even
when the text itself is streamed from disk.

Markdown headings are ATX headings (``# Title`` to ``###### Title``) outside fenced code blocks;
setext headings (a title underlined with ``===``) are not recognised. The converted formats
(DOCX, PPTX, XLSX, HTML, EPUB, see :mod:`.documents`) arrive as markdown and get their headings
the same way.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

PAGE_START = "page_start"
PAGE_END = "page_end"
HEADINGS = "headings"
PROVENANCE_FIELDS = (PAGE_START, PAGE_END, HEADINGS)
"""Payload keys a chunk carries when its document has pages or headings (absent otherwise)."""

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mdx"})

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# markitdown's slide separator in PPTX conversions: slides are a presentation's pages.
_SLIDE = re.compile(r"^<!-- Slide number: (\d+) -->\s*$")


@dataclass(frozen=True)
class Mark:
    """From character ``start`` of the text on: ``page`` (1-based, ``None``: not paged) under ``headings``."""

    start: int
    page: int | None = None
    headings: tuple[str, ...] = ()
    empty: bool = False
    """Nothing but blank lines before the next mark (a heading straight followed by a subheading)."""


@dataclass(frozen=True)
class Provenance:
    """A chunk's pages (first and last, 1-based) and heading path; empty for plain text."""

    page_start: int | None = None
    page_end: int | None = None
    headings: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        """The payload fields; none for a chunk without pages or headings (plain text stays as it was)."""
        fields: dict[str, Any] = {}
        if self.page_start is not None:
            fields[PAGE_START] = self.page_start
            fields[PAGE_END] = self.page_end if self.page_end is not None else self.page_start
        if self.headings:
            fields[HEADINGS] = list(self.headings)
        return fields

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> Provenance:
        payload = payload or {}
        start, end, headings = payload.get(PAGE_START), payload.get(PAGE_END), payload.get(HEADINGS)
        return cls(
            page_start=int(start) if isinstance(start, int) else None,
            page_end=int(end) if isinstance(end, int) else None,
            headings=tuple(str(h) for h in headings) if isinstance(headings, list | tuple) else (),
        )

    @property
    def section(self) -> str:
        """The heading path as people write it: ``"Install > Linux"``; ``""`` if none."""
        return " > ".join(self.headings)

    @property
    def pages(self) -> str:
        """``"p. 12"``, ``"pp. 12-13"``, or ``""`` for a document without pages."""
        if self.page_start is None:
            return ""
        end = self.page_end if self.page_end is not None else self.page_start
        return f"p. {self.page_start}" if end == self.page_start else f"pp. {self.page_start}-{end}"


def provenance_at(marks: tuple[Mark, ...], start: int, end: int) -> Provenance:
    """The provenance of the slice ``[start, end)`` given the document's sorted ``marks``."""
    if not marks:
        return Provenance()
    starts = [m.start for m in marks]
    at = bisect.bisect_right(starts, start) - 1
    last = marks[max(bisect.bisect_right(starts, max(end - 1, start)) - 1, 0)]
    if at < 0:  # the chunk opens with text before the first heading: no section (yet)
        return Provenance(page_start=marks[0].page, page_end=last.page)
    first = marks[at]
    # A chunk that opens with "# Install" then "## Linux" is about Linux: skip headings with no body.
    while marks[at].empty and at + 1 < len(marks) and marks[at + 1].start < end:
        at += 1
    return Provenance(page_start=first.page, page_end=last.page, headings=marks[at].headings)


def citation(source: str, payload: Mapping[str, Any] | None, *, full_path: bool = False) -> str:
    """How to cite a chunk: ``"report.pdf, p. 12"``, ``"guide.md, Install > Linux"``, or the file name.

    ``payload`` is the chunk's payload (or any mapping with its ``page_start``, ``page_end`` and
    ``headings``); ``full_path`` names the source as stored rather than by its file name.
    """
    where = Provenance.from_payload(payload)
    parts = [source if full_path else PurePath(source).name or source, where.pages, where.section]
    return ", ".join(part for part in parts if part)


def page_marks(page_starts: Iterable[int]) -> tuple[Mark, ...]:
    """One mark per page, at the character where each page's text begins."""
    return tuple(Mark(start, page=number) for number, start in enumerate(page_starts, start=1))


def markdown_marks(lines: Iterable[str]) -> Iterator[Mark]:
    """Marks at each heading (and slide) of markdown given as lines with their endings, in order.

    Lines must be as ``open(..., newline="")`` or ``io.StringIO(text, newline="")`` splits them, so
    that the offsets add up to positions in the text the chunker sees.
    """
    position = 0
    path: list[tuple[int, str]] = []  # (level, title) from the outermost heading in
    page: int | None = None
    fence: str | None = None
    pending: Mark | None = None  # the last mark, yielded once we know whether a body follows it
    body = False
    for line in lines:
        bare = line.rstrip("\r\n")
        fenced = _FENCE.match(bare)
        mark: Mark | None = None
        if fence is not None:
            if fenced and fenced.group(1)[0] == fence[0] and len(fenced.group(1)) >= len(fence):
                fence = None
            body = True
        elif fenced:
            fence = fenced.group(1)
            body = True
        elif slide := _SLIDE.match(bare):
            page = int(slide.group(1))
            path = []
            mark = Mark(position, page, ())
        elif heading := _ATX.match(bare):
            level, title = len(heading.group(1)), " ".join((heading.group(2) or "").split())
            while path and path[-1][0] >= level:
                path.pop()
            if title:
                path.append((level, title))
            mark = Mark(position, page, tuple(t for _, t in path))
        elif bare.strip():
            body = True
        if mark is not None:
            if pending is not None:
                yield Mark(pending.start, pending.page, pending.headings, empty=not body)
            pending, body = mark, False
        position += len(line)
    if pending is not None:
        yield Mark(pending.start, pending.page, pending.headings, empty=not body)
