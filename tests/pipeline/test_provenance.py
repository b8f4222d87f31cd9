"""Provenance: each chunk's pages (PDF) and heading path (markdown), from the loader to ``query --json``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from qwen3_rag.pipeline import TokenChunker
from qwen3_rag.pipeline._loaders import read_document
from qwen3_rag.pipeline._provenance import Mark, Provenance, citation, markdown_marks, provenance_at
from tests.support.cli import run

GUIDE = """\
# Guide

Welcome text for the whole guide.

## Install

### Linux

Run the installer from a terminal on Linux.

```bash
# not a heading: a shell comment in a fenced block
./install.sh
```

### Windows

Double-click the setup program.

## Usage

Ask a question in plain words.
"""


def test_markdown_marks_follow_the_heading_tree_and_skip_fenced_code() -> None:
    marks = list(markdown_marks(io.StringIO(GUIDE, newline="")))
    assert [m.headings for m in marks] == [
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Install", "Linux"),
        ("Guide", "Install", "Windows"),
        ("Guide", "Usage"),
    ]
    for mark in marks:  # each mark sits at its heading's line
        assert GUIDE[mark.start :].startswith("#")
    at = GUIDE.index("./install.sh")
    assert provenance_at(tuple(marks), at, at + 5).section == "Guide > Install > Linux"


def test_pages_of_a_slice_and_citations() -> None:
    marks = (Mark(0, page=1), Mark(100, page=2), Mark(250, page=3))
    assert provenance_at(marks, 10, 90) == Provenance(1, 1)
    assert provenance_at(marks, 90, 120) == Provenance(1, 2)  # spanning a page break: start and end
    assert provenance_at(marks, 100, 251) == Provenance(2, 3)
    assert citation("/d/report.pdf", {"page_start": 12, "page_end": 12}) == "report.pdf, p. 12"
    assert citation("/d/report.pdf", {"page_start": 12, "page_end": 13}) == "report.pdf, pp. 12-13"
    assert citation("/d/guide.md", {"headings": ["Install", "Linux"]}) == "guide.md, Install > Linux"
    assert citation("/d/notes.txt", {}) == "notes.txt"
    assert Provenance().to_payload() == {}  # plain text: the payload keeps only its old fields


def test_chunk_spans_are_exact_slices_when_streamed(tiny_embedding_path: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_embedding_path)
    text = "  " + GUIDE * 6 + "\n\n"
    chunker = TokenChunker(tokenizer, chunk_tokens=24, overlap=6)
    pieces = [text[i : i + 37] for i in range(0, len(text), 37)]
    spans = list(chunker.iter_spans(pieces))
    assert [s.text for s in spans] == chunker.split(text)  # same chunks as before
    assert len(spans) > 5
    for span in spans:
        assert text[span.start : span.end] == span.text


def _pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.setTitle("Annual report")
    for text in pages:
        for line, words in enumerate(text.split("\n")):
            pdf.drawString(72, 780 - 16 * line, words)
        pdf.showPage()
    pdf.save()
    return path


def test_pdf_document_knows_where_each_page_starts(tmp_path: Path) -> None:
    doc = read_document(_pdf(tmp_path / "r.pdf", ["alpha page one", "bravo page two", "charlie page three"]))
    assert not isinstance(doc, type(None)) and getattr(doc, "text", None)
    assert doc.title == "Annual report"  # type: ignore[union-attr]
    text = doc.text  # type: ignore[union-attr]
    assert text is not None
    for page, word in enumerate(["alpha", "bravo", "charlie"], start=1):
        at = text.index(word)
        assert doc.provenance(at, at + 5) == Provenance(page, page)  # type: ignore[union-attr]


def test_query_json_and_output_cite_pdf_pages_and_markdown_headings(
    tmp_path: Path, flags: list[str], tiny_embedding_path: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    # Sections longer than a chunk, each phrase at its section's end: its chunk starts in that section.
    padding = "Some general remarks that fill the section. " * 12
    guide = GUIDE.replace("Run the installer", padding + "Run the installer").replace(
        "Ask a question", padding + "Ask a question"
    )
    (docs / "guide.md").write_text(guide, encoding="utf-8")
    filler = "\n".join(f"line {i} of the annual figures and their notes" for i in range(6))
    _pdf(
        docs / "report.pdf",
        [f"alpha intro\n{filler}", f"bravo results\n{filler}", f"charlie outlook\n{filler}"],
    )
    code, out = run(
        ["ingest", str(docs), "--embedding-model", tiny_embedding_path, "--chunk-tokens", "32", *flags]
    )
    assert code == 0, out

    code, out = run(["query", "results", "--json", "--top-k", "100", "--top-n", "100", *flags])
    assert code == 0
    results = json.loads(out)["results"]
    pdf = [r for r in results if r["source"].endswith("report.pdf")]
    md = [r for r in results if r["source"].endswith("guide.md")]
    assert pdf and md

    bravo = next(r for r in pdf if "bravo results" in r["text"])
    assert bravo["page_start"] <= 2 <= bravo["page_end"]
    assert all(1 <= r["page_start"] <= r["page_end"] <= 3 for r in pdf)
    spanning = [r for r in pdf if r["page_start"] < r["page_end"]]
    assert spanning, "with 32-token chunks some chunk crosses a page break"
    for r in spanning:  # its text really holds the end of one page and the start of the next
        assert "\n\n" in r["text"]
    assert any(r["citation"] == "report.pdf, p. 2" for r in pdf)

    linux = next(r for r in md if "terminal on Linux" in r["text"])
    assert linux["headings"] == ["Guide", "Install", "Linux"]
    usage = next(r for r in md if "plain words" in r["text"])
    assert usage["headings"] == ["Guide", "Usage"] and usage["page_start"] is None
    assert usage["citation"] == "guide.md, Guide > Usage"

    code, out = run(["query", "results", "--top-k", "100", "--top-n", "100", *flags])
    assert code == 0 and f"{docs / 'report.pdf'}, p. 2" in out and "guide.md, Guide > Usage" in out

    # Re-ingesting changes nothing: provenance is part of what "unchanged" compares.
    code, out = run(["ingest", str(docs), *flags])
    assert code == 0 and " 0 embedded" in out


class SpyEmbedder:
    """The real tiny embedder, recording the texts it is asked to embed (what a header changes)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]) -> Any:
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_chunk_headers_change_what_is_embedded_not_what_is_returned(
    tmp_path: Path, tiny_embedding_path: str
) -> None:
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(GUIDE, encoding="utf-8")
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")

    def ingest(store: QdrantStore, headers: bool | None) -> tuple[SpyEmbedder, dict[str, Any]]:
        spy = SpyEmbedder(embedder)
        Ingestor(store, spy, chunk_tokens=24, overlap=4, progress=False, chunk_headers=headers).ingest([docs])
        points, _ = store.client.scroll(store.collection, limit=1000, with_payload=True, with_vectors=True)
        return spy, {str(p.id): p for p in points}

    plain_store, headed_store = (
        QdrantStore("plain", location=":memory:"),
        QdrantStore("h", location=":memory:"),
    )
    plain, plain_points = ingest(plain_store, None)
    headed, headed_points = ingest(headed_store, True)

    assert plain_points.keys() == headed_points.keys()  # same chunks, same ids
    stored = sorted(p.payload["text"] for p in headed_points.values())
    assert stored == sorted(p.payload["text"] for p in plain_points.values())  # returned text: unchanged
    assert sorted(plain.embedded) == stored  # without headers the chunk itself is embedded
    assert len(headed.embedded) == len(stored)
    # Each embedded text is a header ("title\nheading path\n\n", no blank line inside) + the chunk.
    assert sorted(e.split("\n\n", 1)[1] for e in headed.embedded) == stored
    assert all(e.startswith("guide.md\nGuide") for e in headed.embedded)
    assert not set(headed.embedded) & set(stored)
    # The header is the file's name (markdown has no title field) and the chunk's stored heading path.
    expected = {
        f"guide.md\n{' > '.join(p.payload['headings'])}\n\n{p.payload['text']}"
        for p in headed_points.values()
    }
    assert set(headed.embedded) == expected
    assert any(e.startswith("guide.md\nGuide > Install > Linux\n\n") for e in headed.embedded)
    for pid, point in headed_points.items():  # different embedded text, different vectors
        assert point.vector["dense"] != plain_points[pid].vector["dense"]

    # Recorded like the chunk sizes: a plain re-run follows it and changes nothing ...
    assert headed_store.read_chunking() == (24, 4)
    assert headed_store.read_chunking_options() == {"chunk_headers": True}
    again, _ = ingest(headed_store, None)
    assert again.embedded == []
    # ... and switching it off re-embeds every chunk as itself.
    off, _ = ingest(headed_store, False)
    assert sorted(off.embedded) == stored and headed_store.read_chunking_options() == {"chunk_headers": False}
