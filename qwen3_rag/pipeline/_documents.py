"""Office, HTML and EPUB documents, read as markdown with markitdown (``pip install 'qwen3-rag[documents]'``).

markitdown was chosen over docling, unstructured and pymupdf4llm by measurement (docs/benchmarks.md,
"Document parsers"): it reads all five formats offline, keeps tables whole as markdown tables and
headings as markdown headings (so chunks get heading paths, :mod:`.provenance`), and slides as
pages; docling needs gigabytes and model downloads, unstructured downloads spaCy models at run
time, pymupdf4llm lost the tables and the spreadsheet.

Its DOCX reader fails on some files (a preprocessing step that drops XML namespaces with the
lxml and BeautifulSoup versions installed here): DOCX then goes through mammoth (which markitdown
itself uses) to HTML and markitdown's HTML converter, the same markdown without the equations step.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Any

from ._provenance import markdown_marks

logger = logging.getLogger(__name__)

EXTRA = "documents"
CONVERTED_SUFFIXES = frozenset({".docx", ".pptx", ".xlsx", ".html", ".htm", ".xhtml", ".epub"})
"""Formats read through the ``documents`` extra. Without it HTML is still read as plain text."""
TEXT_WITHOUT_EXTRA = frozenset({".html", ".htm", ".xhtml"})
_ZIP_FORMATS = frozenset({".docx", ".pptx", ".xlsx", ".epub"})

_converter: Any = None


def available() -> bool:
    try:
        import markitdown  # noqa: F401
    except ImportError:
        return False
    return True


def missing_extra_reason(suffix: str) -> str:
    return f"{suffix} files need the documents extra: pip install 'qwen3-rag[{EXTRA}]'"


def _markitdown() -> Any:
    global _converter
    if _converter is None:
        from markitdown import MarkItDown

        _converter = MarkItDown(enable_plugins=False)
    return _converter


def _docx_via_mammoth(path: Path) -> Any:
    import mammoth
    from markitdown import StreamInfo

    with open(path, "rb") as handle:
        html = mammoth.convert_to_html(handle).value
    stream = io.BytesIO(html.encode("utf-8"))
    return _markitdown().convert_stream(stream, stream_info=StreamInfo(extension=".html", charset="utf-8"))


def convert(path: Path) -> tuple[str, str | None]:
    """``(markdown, title)`` of an Office, HTML or EPUB file; raises on a file it cannot read."""
    suffix = path.suffix.lower()
    if suffix in _ZIP_FORMATS and not zipfile.is_zipfile(path):
        # markitdown would read such a file as plain text (it sniffs the content): garbage in the index.
        raise ValueError(f"not a {suffix} file (it is not a ZIP archive, which {suffix} files are)")
    try:
        result = _markitdown().convert(str(path))
    except Exception:
        if suffix != ".docx":
            raise
        logger.debug("qwen3-rag: markitdown failed on %s; reading it with mammoth", path)
        result = _docx_via_mammoth(path)
    title = " ".join(str(result.title or "").split()) or None
    return result.text_content or "", title


def converted_marks(text: str) -> tuple[Any, ...]:
    """Headings (and slides, as pages) of the converted markdown."""
    return tuple(markdown_marks(io.StringIO(text, newline="")))
