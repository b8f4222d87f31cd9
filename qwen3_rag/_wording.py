"""Small helpers for the words the command line and reports print."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``, ``0 files``: counts with their noun in agreement."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
