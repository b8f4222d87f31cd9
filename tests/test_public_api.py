"""The public surface: docs/api.md, each public module's ``__all__``, and the deprecated old paths."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import qwen3_rag
from qwen3_rag import _deprecated

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = (
    "qwen3_rag",
    "qwen3_rag.pipeline",
    "qwen3_rag.server",
    "qwen3_rag.evaluation",
    "qwen3_rag.testing",
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


@pytest.mark.parametrize(
    "old, new, attribute",
    [
        ("qwen3_rag.pipeline.store", "qwen3_rag.pipeline._store", "QdrantStore"),
        ("qwen3_rag.runtime", "qwen3_rag._runtime", "Qwen3Embedder"),
        ("qwen3_rag.runtime.planning", "qwen3_rag._runtime.planning", "plan_batches"),
        ("qwen3_rag.errors", "qwen3_rag._errors", "InvalidOptionError"),
        ("qwen3_rag.server.config", "qwen3_rag.server._config", "ServerConfig"),
        ("qwen3_rag.evaluation.beir", "qwen3_rag.evaluation._beir", "load_beir"),
    ],
)
def test_an_old_module_path_warns_and_is_the_same_module(old: str, new: str, attribute: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(old) + ".*" + re.escape(new)):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert hasattr(module, attribute)


def test_an_old_package_export_warns_and_is_the_same_object() -> None:
    import qwen3_rag.pipeline
    from qwen3_rag.pipeline import _layout

    with pytest.warns(DeprecationWarning, match="point_id is no longer exported"):
        point_id = qwen3_rag.pipeline.point_id
    assert point_id is _layout.point_id
    with pytest.raises(AttributeError, match="no_such_name"):
        qwen3_rag.pipeline.no_such_name  # noqa: B018


def test_unknown_old_paths_are_not_invented() -> None:
    assert _deprecated.new_module_name("qwen3_rag.pipeline.no_such_module") is None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("qwen3_rag.pipeline.no_such_module")


def test_nothing_we_ship_imports_a_deprecated_path() -> None:
    """Import every module of the package and of the four adapters in a fresh interpreter, and
    fail on any of our own deprecation warnings."""
    script = """
import importlib, pkgutil, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import qwen3_rag
    import langchain_qwen3_rag, llama_index.embeddings.qwen3_rag
    import llama_index.postprocessor.qwen3_rag_rerank, llama_index.retrievers.qwen3_rag
    for package in (qwen3_rag, langchain_qwen3_rag):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
ours = [str(w.message) for w in caught if "goes away in" in str(w.message)]
print("\\n".join(ours))
raise SystemExit(1 if ours else 0)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alias_finder_is_installed_once() -> None:
    _deprecated.install()
    _deprecated.install()
    finders = [f for f in sys.meta_path if type(f).__name__ == "_MovedModuleFinder"]
    assert len(finders) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("qwen3_rag.pipeline._store")  # the new paths never warn
