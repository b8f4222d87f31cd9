"""Finding and reading documents: folders and files, text of any extension, PDF via pypdf.

A file that cannot be read as text (binary, not UTF-8, an unreadable PDF, no permission) is
skipped and reported, never silently dropped: each skip is logged as a warning naming the file
and the reason, and the caller gets the list to print a count at the end.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Document:
    """A source file's text. ``source`` is its absolute path, the key of its chunks in the store."""

    source: str
    text: str


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


def find_files(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[SkippedFile]]:
    """Every file under ``paths`` (recursively, sorted, hidden files and folders left out).

    Hidden entries are left out so that ``qwen3-rag ingest .`` does not read ``.git`` or the
    embedded store in ``.qwen3-rag``; a hidden file named explicitly is still read.
    """
    files: list[Path] = []
    missing: list[SkippedFile] = []
    seen: set[Path] = set()
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
            if resolved not in seen:
                seen.add(resolved)
                files.append(resolved)
    return files, missing


def read_document(path: Path) -> Document | SkippedFile:
    """The text of one file, or why it was skipped."""
    suffix = path.suffix.lower()
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
    return Document(source=path.as_posix(), text=text)


def _read_pdf(path: Path) -> Document | SkippedFile:
    try:
        from pypdf import PdfReader
    except ImportError:
        return SkippedFile(str(path), "PDF support is not installed: pip install 'qwen3-rag[pdf]'")
    try:
        reader = PdfReader(str(path))
        text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
    except Exception as exc:  # pypdf raises many kinds for broken files; all mean "cannot read"
        return SkippedFile(str(path), f"invalid PDF ({type(exc).__name__}: {exc})")
    if not text.strip():
        return SkippedFile(str(path), "PDF has no extractable text (scanned images?)")
    return Document(source=path.as_posix(), text=text)


def iter_documents(files: Sequence[Path]) -> Iterator[Document | SkippedFile]:
    """Read ``files`` lazily, logging a warning for each skipped one."""
    for file in files:
        result = read_document(file)
        if isinstance(result, SkippedFile):
            logger.warning("qwen3-rag: skipped %s: %s", result.path, result.reason)
        yield result
