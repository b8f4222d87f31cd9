"""Finding and reading documents: folders and files, text of any extension, PDF via pypdf, and
with the ``documents`` extra DOCX, PPTX, XLSX, HTML and EPUB as markdown (:mod:`.documents`).

Each document carries its provenance marks (:mod:`.provenance`): a PDF's page starts, a markdown
file's headings, so that every chunk can be cited by page or section.

A file that cannot be read as text (binary, not UTF-8, an unreadable PDF, no permission) is
skipped and reported, never silently dropped: each skip is logged once as a warning naming the
file and the reason, and the caller gets the list to print a count at the end.

Text files are checked in one streaming pass and then read in pieces (:meth:`Document.pieces`),
so a file of any size is ingested in bounded memory.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _documents
from ._documents import CONVERTED_SUFFIXES, TEXT_WITHOUT_EXTRA
from ._naming import source_text
from ._provenance import MARKDOWN_SUFFIXES, Mark, Provenance, markdown_marks, page_marks, provenance_at

logger = logging.getLogger(__name__)

# Extensions that are never text: skipped without reading them.
# fmt: off
BINARY_EXTENSIONS = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tiff", ".mp3", ".mp4", ".wav",
        ".ogg", ".flac", ".avi", ".mov", ".mkv", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".tar",
        ".rar", ".exe", ".dll", ".so", ".dylib", ".o", ".a", ".class", ".jar", ".pyc", ".whl", ".bin",
        ".safetensors", ".pt", ".pth", ".onnx", ".npy", ".npz", ".pkl", ".parquet", ".sqlite", ".db",
        ".doc", ".xls", ".ppt", ".docx", ".xlsx", ".pptx", ".woff", ".woff2", ".ttf", ".otf",
    }
)
# fmt: on
_SNIFF_BYTES = 8192
PIECE_CHARS = 1 << 20  # characters per piece when a text file is read in pieces
_CHECK_BYTES = 1 << 20


@dataclass(frozen=True)
class Document:
    """A source file's text. ``source`` is its absolute path, the key of its chunks in the store.

    ``text`` holds the whole text when it was extracted in memory (PDF); ``None`` means the text
    is read from ``source`` in pieces, on demand (:meth:`pieces`), so huge files never sit whole
    in memory.
    """

    source: str
    text: str | None = None
    size: int = 0
    """Bytes on disk (for progress)."""
    path: str | None = None
    """Where the file is read from, when its name is not valid UTF-8 and ``source`` is its
    escaped form (:mod:`._naming`); ``None``: read from ``source``."""
    title: str | None = None
    """The title the file declares (PDF metadata, HTML ``<title>``), if any."""
    marks: tuple[Mark, ...] = ()
    """Where pages and headings begin in the text (sorted by position); empty for plain text."""

    def provenance(self, start: int, end: int) -> Provenance:
        """Pages and heading path of the text slice ``[start, end)``."""
        return provenance_at(self.marks, start, end)

    def pieces(self, piece_chars: int = PIECE_CHARS) -> Iterator[str]:
        """The text in order, in pieces of at most ``piece_chars`` characters."""
        if self.text is not None:
            yield self.text
            return
        # newline="": the text exactly as stored, as bytes.decode gives it (no newline translation).
        with open(self.path or self.source, encoding="utf-8-sig", newline="") as handle:
            while piece := handle.read(piece_chars):
                yield piece


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str

    def __post_init__(self) -> None:
        # A name that is not UTF-8 is reported as its source key would be (printable, storable).
        object.__setattr__(self, "path", source_text(self.path))


def find_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[SkippedFile]]:
    """Every file under ``paths`` (recursively, sorted, hidden files and folders left out).

    Hidden entries are left out so that ``qwen3-rag ingest .`` does not read ``.git`` or the
    embedded store in ``.qwen3-rag``; a hidden file named explicitly is still read.
    """
    files: list[Path] = []
    missing: list[SkippedFile] = []
    seen: set[Path] = set()
    keys: dict[str, str] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found = [path]
        else:
            missing.append(SkippedFile(str(path), "no such file or folder"))
            continue
        for file in found:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            key = source_text(resolved)
            if key in keys:  # an escaped non-UTF-8 name equal to a real one: keys must stay unique
                same = f"its name is the same as {keys[key]!r} once written as UTF-8; rename it"
                missing.append(SkippedFile(key, same))
                continue
            keys[key] = os.fsencode(resolved).decode("utf-8", "backslashreplace")
            files.append(resolved)
    return files, missing


def read_document(path: Path) -> Document | SkippedFile:
    """The text of one file, or why it was skipped."""
    suffix = path.suffix.lower()
    if suffix in CONVERTED_SUFFIXES:
        if _documents.available():
            return _read_converted(path)
        if suffix not in TEXT_WITHOUT_EXTRA:  # HTML is still read as text, as before the extra
            return SkippedFile(str(path), _documents.missing_extra_reason(suffix))
    if suffix in BINARY_EXTENSIONS:
        return SkippedFile(str(path), f"binary file type {suffix}")
    if suffix == ".pdf":
        return _read_pdf(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SkippedFile(str(path), f"unreadable ({exc.strerror or exc})")
    if b"\x00" in data[:_SNIFF_BYTES]:
        return SkippedFile(str(path), "binary content (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return SkippedFile(str(path), f"not UTF-8 text (invalid byte at offset {exc.start})")
    marks = tuple(markdown_marks(io.StringIO(text, newline=""))) if suffix in MARKDOWN_SUFFIXES else ()
    return _document(path, text=text, size=len(data), marks=marks)


def _read_pdf(path: Path) -> Document | SkippedFile:
    try:
        from pypdf import PdfReader
    except ImportError:
        return SkippedFile(str(path), "PDF support is not installed: pip install 'qwen3-rag[pdf]'")
    # pypdf logs its own warnings about a damaged file; we report the file once, with the reason.
    pypdf_logger = logging.getLogger("pypdf")
    level = pypdf_logger.level
    pypdf_logger.setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _pdf_title(reader)
    except Exception as exc:  # pypdf raises many kinds for broken files; all mean "cannot read"
        return SkippedFile(str(path), f"invalid PDF ({type(exc).__name__}: {exc})")
    finally:
        pypdf_logger.setLevel(level)
    text, starts = _join_pages(pages)
    if not text.strip():
        return SkippedFile(str(path), "PDF has no extractable text (scanned images?)")
    return _document(path, text=text, size=_size(path), title=title, marks=page_marks(starts))


def _read_converted(path: Path) -> Document | SkippedFile:
    try:
        text, title = _documents.convert(path)
    except Exception as exc:  # the parsers raise many kinds for broken files; all mean "cannot read"
        return SkippedFile(str(path), f"unreadable {path.suffix.lower()} ({type(exc).__name__}: {exc})")
    if not text.strip():
        return SkippedFile(str(path), f"{path.suffix.lower()} file has no text")
    marks = _documents.converted_marks(text)
    return _document(path, text=text, size=_size(path), title=title, marks=marks)


def _join_pages(pages: Sequence[str]) -> tuple[str, list[int]]:
    """The pages' text joined by blank lines, and where each page starts in it."""
    starts, position = [], 0
    for text in pages:
        starts.append(position)
        position += len(text) + 2
    return "\n\n".join(pages), starts


def _pdf_title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception:  # damaged metadata: the title is a nicety, the text is what counts
        return None
    return (" ".join(str(title).split()) or None) if title else None


def _check_text_file(path: Path) -> SkippedFile | None:
    """Why ``path`` cannot be ingested as UTF-8 text, or ``None``; one streaming pass, bounded memory."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    position = 0
    try:
        with open(path, "rb") as handle:
            while block := handle.read(_CHECK_BYTES):
                if position == 0 and b"\x00" in block[:_SNIFF_BYTES]:
                    return SkippedFile(str(path), "binary content (NUL bytes)")
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    return SkippedFile(
                        str(path), f"not UTF-8 text (invalid byte at offset {position + exc.start})"
                    )
                position += len(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # the file ends inside a character
        at = position + exc.start
        return SkippedFile(str(path), f"not UTF-8 text (invalid byte at offset {at})")
    except OSError as exc:
        return SkippedFile(str(path), f"unreadable ({exc.strerror or exc})")
    return None


def open_document(path: Path) -> Document | SkippedFile:
    """Like :func:`read_document`, but a text file's text stays on disk, read later in pieces."""
    suffix = path.suffix.lower()
    if suffix in BINARY_EXTENSIONS or suffix in CONVERTED_SUFFIXES or suffix == ".pdf":
        return read_document(path)
    problem = _check_text_file(path)
    if problem is not None:
        return problem
    marks: tuple[Mark, ...] = ()
    if suffix in MARKDOWN_SUFFIXES:
        try:  # headings are few: one more streaming pass keeps memory bounded
            with open(path, encoding="utf-8-sig", newline="") as handle:
                marks = tuple(markdown_marks(handle))
        except OSError as exc:
            return SkippedFile(str(path), f"unreadable ({exc.strerror or exc})")
    return _document(path, size=_size(path), marks=marks)


def _document(
    path: Path,
    *,
    text: str | None = None,
    size: int,
    title: str | None = None,
    marks: tuple[Mark, ...] = (),
) -> Document:
    source = source_text(path)
    real = path.as_posix()
    return Document(
        source=source, text=text, size=size, path=None if real == source else real, title=title, marks=marks
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone since it was checked: reading it says so (a skipped file), not this
        return 0


def iter_documents(files: Sequence[Path]) -> Iterator[Document | SkippedFile]:
    """Open ``files`` lazily (text streamed from disk), logging a warning for each skipped one."""
    for file in files:
        result = open_document(file)
        if isinstance(result, SkippedFile):
            logger.warning("qwen3-rag: skipped %s: %s", result.path, result.reason)
        yield result
