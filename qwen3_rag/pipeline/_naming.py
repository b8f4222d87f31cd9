"""Names that cannot fail: the source key of any file, and a printable form of any name.

A POSIX file name is bytes, and Python hands bytes that are not UTF-8 over as lone surrogates
(``surrogateescape``): such a string cannot be encoded, stored as JSON or hashed as UTF-8. So a
file's source key (its absolute path, the key of its chunks and record) is made valid text here:
each byte that is not part of valid UTF-8 is written as the four characters ``\\xNN``. A name
that is valid UTF-8 (nearly all of them) is its own key, unchanged; a name that is not gets a
stable key, the same on every run, and its file is read from its real name. A walk that meets
two files whose keys are equal (``bad\\xff.md`` and a file literally named ``bad\\xff.md``)
ingests the first and reports the second as skipped (see :func:`~._loaders.find_files`).

Control characters are valid UTF-8 and stay in the key; tables print names through
:func:`printable`, which escapes them so that one name stays one line.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath


def to_bytes(text: str) -> bytes:
    """UTF-8 bytes of any ``str``: lone surrogates become the bytes they stand for (or encode as such)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape")  # a name's undecodable bytes, back as they were
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")  # any other lone surrogate: never fails


def source_text(path: str | os.PathLike[str]) -> str:
    """``path`` (already absolute and resolved) as a valid UTF-8 source key, POSIX separators."""
    text = path.as_posix() if isinstance(path, PurePath) else os.fspath(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return to_bytes(text).decode("utf-8", "backslashreplace")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(name: str) -> str:
    """``name`` with control characters escaped (``\\n``, ``\\x1b`` ...) so it prints on one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), name)
