"""The public surface: docs/api.md, each public module's ``__all__``, and the deprecated old paths."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import qwen3_rag

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = (
    "qwen3_rag",
    "qwen3_rag.pipeline",
    "qwen3_rag.server",
    "qwen3_rag.evaluation",
    "qwen3_rag.testing",
    "qwen3_rag.testing_reference",
)


def documented_names() -> dict[str, set[str]]:
    """``## `module` `` headings, then every backticked name that opens a bullet (or follows a
    comma in one) under it."""
    names: dict[str, set[str]] = {}
    current = None
    for line in (ROOT / "docs" / "api.md").read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## `([\w.]+)`", line)
        if heading:
            current = heading.group(1)
            names[current] = set()
        elif current and re.match(r"\s*- `", line):
            lead = line.split(":", 1)[0]
            names[current].update(re.findall(r"`(\w+)`", lead))
    return names


def test_every_module_without_an_underscore_is_a_documented_public_module() -> None:
    found = {"qwen3_rag"}
    for module in pkgutil.walk_packages(qwen3_rag.__path__, "qwen3_rag."):
        if not any(part.startswith("_") for part in module.name.split(".")):
            found.add(module.name)
    assert found == set(PUBLIC_MODULES)
    assert set(documented_names()) == set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_docs_api_lists_exactly_what_the_module_exports(name: str) -> None:
    module = importlib.import_module(name)
    assert set(module.__all__) == documented_names()[name]
    for exported in module.__all__:
        getattr(module, exported)  # every listed name resolves


def test_no_compatibility_layer_for_a_release_that_never_shipped() -> None:
    """0.1.0 was never released: old module paths are simply gone (no meta-path finder, no
    ``__getattr__`` aliases), and an unknown name is a plain AttributeError."""
    import qwen3_rag.pipeline

    assert not [f for f in sys.meta_path if type(f).__name__ == "_MovedModuleFinder"]
    for old in ("qwen3_rag.runtime", "qwen3_rag.pipeline.store", "qwen3_rag.errors"):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)
    with pytest.raises(AttributeError, match="point_id"):
        qwen3_rag.pipeline.point_id  # noqa: B018
