"""A pytest plugin (loaded by the root conftest): with ``-m "not a and not b"``, a test module whose
top-level ``pytestmark`` carries ``a`` or ``b`` is not imported at all.

``-m`` alone would import every module and then deselect its tests; importing the modules that build
models (transformers' modeling code, llama_index, langchain-tests) was most of the quick loop's time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest


def excluded_marks(markexpr: str) -> frozenset[str]:
    """The marks ``-m`` excludes outright: ``not a and not b`` -> {a, b}; empty for any other form
    (an ``or`` or a bare name could select a test its module's mark alone would not decide)."""
    terms = [term.strip() for term in markexpr.split(" and ")] if markexpr.strip() else []
    names = [term.removeprefix("not ").strip() for term in terms if term.startswith("not ")]
    return (
        frozenset(names) if len(names) == len(terms) and all(n.isidentifier() for n in names) else frozenset()
    )


def module_marks(path: Path) -> set[str]:
    """The names in a test module's top-level ``pytestmark = pytest.mark.x`` (or a list of them),
    read from its source without importing it."""
    text = path.read_text(encoding="utf-8")
    if "pytestmark" not in text:
        return set()
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            return {
                sub.attr
                for sub in ast.walk(node.value)
                if isinstance(sub, ast.Attribute) and getattr(sub.value, "attr", None) == "mark"
            }
    return set()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """``True`` (not collected) for a test module whose ``pytestmark`` ``-m`` excludes outright."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    excluded = excluded_marks(config.getoption("markexpr") or "")
    return True if excluded & module_marks(collection_path) else None
