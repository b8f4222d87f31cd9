"""Sample documents in every format ``ingest`` reads, generated (no files shipped, no downloads).

Each file holds headings, paragraphs and one table, and a *marker word* per format that appears
nowhere else, so a test can check that the text was read and found, and the parser comparison
(:mod:`benchmarks.parsers`) can check what each parser kept of the table. ``scale`` repeats the
body to make larger files for timing.

Needs the generation libraries (the ``test`` extra): python-docx, python-pptx, openpyxl,
reportlab, ebooklib.
"""

from __future__ import annotations

import html
from pathlib import Path

MARKERS = {
    "docx": "zebrafinch",
    "pptx": "quokkaslide",
    "xlsx": "narwhalcell",
    "html": "axolotlpage",
    "epub": "pangolinbook",
    "pdf": "capybarapdf",
}
"""A word only each format's file contains."""

TABLE = [["Region", "Units", "Revenue"], ["North", "120", "4,300"], ["South", "95", "3,150"]]
"""The table every file holds: a parser kept it whole when each row's cells stay together, in order."""

SECTIONS = [
    ("Install", "Linux", "Run the installer from a terminal; it needs no root rights on Linux."),
    ("Install", "Windows", "Double-click the setup program and follow the steps on screen."),
    ("Usage", "Queries", "Ask a question in plain words and read the passages that come back."),
]
"""(chapter, section, paragraph) triples: the headings a parser should keep."""


def _paragraphs(fmt: str, scale: int) -> list[tuple[str, str, str]]:
    """The sections, the first carrying the format's marker, repeated ``scale`` times."""
    body = []
    for copy in range(scale):
        for i, (chapter, section, text) in enumerate(SECTIONS):
            marker = f" The {MARKERS[fmt]} keyword marks this {fmt} file." if copy == 0 and i == 0 else ""
            body.append((chapter, section, text + marker))
    return body


def write_docx(path: Path, scale: int = 1) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Sample manual"
    last = None
    for chapter, section, text in _paragraphs("docx", scale):
        if chapter != last:
            document.add_heading(chapter, level=1)
            last = chapter
        document.add_heading(section, level=2)
        document.add_paragraph(text)
    table = document.add_table(rows=len(TABLE), cols=len(TABLE[0]))
    for r, row in enumerate(TABLE):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    document.save(str(path))
    return path


def write_pptx(path: Path, scale: int = 1) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for chapter, section, text in _paragraphs("pptx", scale):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"{chapter}: {section}"
        slide.placeholders[1].text = text
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Sales"
    shape = slide.shapes.add_table(len(TABLE), len(TABLE[0]), Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate(TABLE):
        for c, cell in enumerate(row):
            shape.table.cell(r, c).text = cell
    deck.save(str(path))
    return path


def write_xlsx(path: Path, scale: int = 1) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    for row in TABLE:
        sheet.append(row)
    notes = book.create_sheet("Notes")
    notes.append(["Chapter", "Section", "Text"])
    for chapter, section, text in _paragraphs("xlsx", scale):
        notes.append([chapter, section, text])
    book.save(str(path))
    return path


def _html_body(fmt: str, scale: int) -> str:
    parts, last = [], None
    for chapter, section, text in _paragraphs(fmt, scale):
        if chapter != last:
            parts.append(f"<h1>{html.escape(chapter)}</h1>")
            last = chapter
        parts.append(f"<h2>{html.escape(section)}</h2><p>{html.escape(text)}</p>")
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in TABLE)
    parts.append(f"<table>{rows}</table>")
    return "\n".join(parts)


def write_html(path: Path, scale: int = 1) -> Path:
    page = (
        "<!DOCTYPE html><html><head><title>Sample manual</title>"
        "<style>p { color: #333 }</style><script>var tracking = 1;</script></head>"
        f"<body><nav>Home | About</nav>{_html_body('html', scale)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path


def write_epub(path: Path, scale: int = 1) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("sample-manual")
    book.set_title("Sample manual")
    book.set_language("en")
    chapter = epub.EpubHtml(title="Manual", file_name="manual.xhtml", lang="en")
    chapter.content = f"<html><body>{_html_body('epub', scale)}</body></html>"
    book.add_item(chapter)
    book.toc = [chapter]
    book.spine = ["nav", chapter]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


def write_pdf(path: Path, scale: int = 1) -> Path:
    """One page per section (section ``i`` is on page ``i + 1``), then the table."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Sample manual")
    for chapter, section, text in _paragraphs("pdf", scale):
        pdf.drawString(72, 780, f"{chapter} - {section}")
        pdf.drawString(72, 750, text)
        pdf.showPage()
    for r, row in enumerate(TABLE):
        for c, cell in enumerate(row):
            pdf.drawString(72 + 120 * c, 780 - 20 * r, cell)
    pdf.showPage()
    pdf.save()
    return path


WRITERS = {
    "docx": write_docx,
    "pptx": write_pptx,
    "xlsx": write_xlsx,
    "html": write_html,
    "epub": write_epub,
    "pdf": write_pdf,
}


def write_all(folder: Path, scale: int = 1) -> dict[str, Path]:
    """One sample file per format in ``folder``: ``{"docx": folder / "sample.docx", ...}``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {fmt: write(folder / f"sample.{fmt}", scale) for fmt, write in WRITERS.items()}
