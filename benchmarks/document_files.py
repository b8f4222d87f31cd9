"""Sample files in every format ``ingest`` reads (the ``test`` extra writes them): headings, paragraphs,
one table and a marker word only that file has, the body repeated ``scale`` times for timing sizes."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

FORMATS = ("docx", "pptx", "xlsx", "html", "epub", "pdf")
_WORDS = "zebrafinch quokkaslide narwhalcell axolotlpage pangolinbook capybarapdf"
MARKERS = dict(zip(FORMATS, _WORDS.split(), strict=True))  # a word only each format's file contains
TABLE = [["Region", "Units", "Revenue"], ["North", "120", "4,300"], ["South", "95", "3,150"]]
CELLS = [(r, c, cell) for r, row in enumerate(TABLE) for c, cell in enumerate(row)]
SECTIONS = [  # (chapter, section, paragraph): the headings a parser should keep
    ("Install", "Linux", "Run the installer from a terminal; it needs no root rights on Linux."),
    ("Install", "Windows", "Double-click the setup program and follow the steps on screen."),
    ("Usage", "Queries", "Ask a question in plain words and read the passages that come back."),
]


def _body(fmt: str, scale: int) -> list[tuple[str, str, str]]:
    """The sections ``scale`` times, the first carrying the format's marker word."""
    (chapter, section, text), *rest = SECTIONS * scale
    return [(chapter, section, f"{text} The {MARKERS[fmt]} keyword marks this {fmt} file."), *rest]


def _outline(fmt: str, scale: int) -> Iterator[tuple[int, str]]:
    """``(1, chapter)`` when it changes, ``(2, section)``, ``(0, paragraph)``."""
    last = None
    for chapter, section, text in _body(fmt, scale):
        if chapter != last:
            yield 1, chapter
            last = chapter
        yield from ((2, section), (0, text))


def write_docx(path: Path, scale: int) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Sample manual"
    for level, text in _outline("docx", scale):
        document.add_heading(text, level=level) if level else document.add_paragraph(text)
    table = document.add_table(rows=len(TABLE), cols=len(TABLE[0]))
    for r, c, cell in CELLS:
        table.cell(r, c).text = cell
    document.save(str(path))


def write_pptx(path: Path, scale: int) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for chapter, section, text in _body("pptx", scale):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"{chapter}: {section}"
        slide.placeholders[1].text = text
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Sales"
    shape = slide.shapes.add_table(len(TABLE), len(TABLE[0]), Inches(1), Inches(2), Inches(6), Inches(2))
    for r, c, cell in CELLS:
        shape.table.cell(r, c).text = cell
    deck.save(str(path))


def write_xlsx(path: Path, scale: int) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Sales"
    for row in TABLE:
        book.active.append(row)
    notes = book.create_sheet("Notes")
    notes.append(("Chapter", "Section", "Text"))
    for section in _body("xlsx", scale):
        notes.append(section)
    book.save(str(path))


def _html_body(fmt: str, scale: int) -> str:
    parts = []
    for level, text in _outline(fmt, scale):
        tag = f"h{level}" if level else "p"
        parts.append(f"<{tag}>{html.escape(text)}</{tag}>")
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in TABLE)
    return "\n".join([*parts, f"<table>{rows}</table>"])


def write_html(path: Path, scale: int) -> None:
    head = "<title>Sample manual</title><style>p { color: #333 }</style><script>var tracking = 1;</script>"
    body = f"<nav>Home | About</nav>{_html_body('html', scale)}"
    path.write_text(f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>", encoding="utf-8")


def write_epub(path: Path, scale: int) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("sample-manual")
    book.set_title("Sample manual")
    book.set_language("en")
    chapter = epub.EpubHtml(title="Manual", file_name="manual.xhtml", lang="en")
    chapter.content = f"<html><body>{_html_body('epub', scale)}</body></html>"
    for item in (chapter, epub.EpubNcx(), epub.EpubNav()):
        book.add_item(item)
    book.toc, book.spine = [chapter], ["nav", chapter]
    epub.write_epub(str(path), book)


def write_pdf(path: Path, scale: int) -> None:
    """One page per section (section ``i`` on page ``i + 1``), then the table."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Sample manual")
    for chapter, section, text in _body("pdf", scale):
        pdf.drawString(72, 780, f"{chapter} - {section}")
        pdf.drawString(72, 750, text)
        pdf.showPage()
    for r, c, cell in CELLS:
        pdf.drawString(72 + 120 * c, 780 - 20 * r, cell)
    pdf.showPage()
    pdf.save()


def write_all(folder: Path, scale: int = 1) -> dict[str, Path]:
    """One sample file per format in ``folder``: ``{"docx": folder / "sample.docx", ...}``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {fmt: folder / f"sample.{fmt}" for fmt in FORMATS}
    writers = (write_docx, write_pptx, write_xlsx, write_html, write_epub, write_pdf)
    for fmt, write in zip(FORMATS, writers, strict=True):
        write(paths[fmt], scale)
    return paths
