"""Old import paths that keep working for one version, with a DeprecationWarning.

Until 0.2 the implementation modules had public names (``qwen3_rag.pipeline.store``,
``qwen3_rag.runtime``, ...). They now live behind underscores; a user's ``import`` of an old
module path still gets the module (the very same object, so ``isinstance`` and monkeypatching
keep working) and a warning naming what to import instead. Names that packages exported and no
longer do are served the same way by each package's ``__getattr__`` (:func:`moved_attribute`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

REMOVED_IN = "0.2"

_PUBLIC_HINT = (
    "import from qwen3_rag, qwen3_rag.pipeline, qwen3_rag.server or qwen3_rag.evaluation (docs/api.md)"
)

# Old module path -> its new private home. ``qwen3_rag.runtime.*`` is mapped by prefix.
MOVED_MODULES: dict[str, str] = {
    "qwen3_rag.runtime": "qwen3_rag._runtime",
    "qwen3_rag.cli": "qwen3_rag._cli",
    "qwen3_rag.errors": "qwen3_rag._errors",
    "qwen3_rag.prompts": "qwen3_rag._prompts",
    "qwen3_rag.ranking": "qwen3_rag._ranking",
    "qwen3_rag.pipeline.answer": "qwen3_rag._chat",  # answer generation left the pipeline
    **{
        f"qwen3_rag.pipeline.{name}": f"qwen3_rag.pipeline._{name}"
        for name in (
            "chunking",
            "embedded",
            "ingest",
            "layout",
            "loaders",
            "opening",
            "pruning",
            "retriever",
            "sources",
            "sparse",
            "store",
        )
    },
    **{
        f"qwen3_rag.server.{name}": f"qwen3_rag.server._{name}"
        for name in (
            "app",
            "command",
            "common",
            "config",
            "dependencies",
            "embeddings",
            "errors",
            "guard",
            "metrics",
            "rerank",
            "runner",
            "schemas",
            "state",
        )
    },
    **{
        f"qwen3_rag.evaluation.{name}": f"qwen3_rag.evaluation._{name}"
        for name in ("beir", "command", "evaluate", "index", "metrics", "report", "runs")
    },
}


def new_module_name(old: str) -> str | None:
    if old in MOVED_MODULES:
        return MOVED_MODULES[old]
    if old.startswith("qwen3_rag.runtime."):
        return "qwen3_rag._runtime." + old.removeprefix("qwen3_rag.runtime.")
    return None


class _AliasLoader(importlib.abc.Loader):
    """Hands out the already-imported new module under the old name."""

    def __init__(self, new_name: str) -> None:
        self.new_name = new_name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} is now the private {self.new_name}, and the old path goes away in "
            f"{REMOVED_IN}: {_PUBLIC_HINT}.",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.new_name)

    def exec_module(self, module: ModuleType) -> None:
        """The module is already executed under its new name."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new_name = new_module_name(fullname)
        if new_name is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(new_name))


def install() -> None:
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())


def moved_attribute(package: str, name: str, moved: Mapping[str, str]) -> Any:
    """For a package's ``__getattr__``: ``moved`` maps a former export to its private module."""
    if name not in moved:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warnings.warn(
        f"{package}.{name} is no longer exported and goes away in {REMOVED_IN}; it is an "
        f"implementation detail now ({moved[name]}). {_PUBLIC_HINT[0].upper()}{_PUBLIC_HINT[1:]}.",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(moved[name]), name)
