"""Which qwen3-rag modules a source file imports, read from its syntax tree (nothing is run):
the checks that adapters and examples stand on the public API alone."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path) -> list[str]:
    """Every absolute import in ``path``: ``import a.b`` gives ``a.b``; ``from a import b`` gives
    ``a`` and ``a.b`` (``b`` may be a module: ``from qwen3_rag import _environment``)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def private_qwen3_rag_imports(path: Path) -> list[str]:
    """The imports in ``path`` that reach a ``qwen3_rag._*`` or ``qwen3_rag.*._*`` name."""
    return [
        name
        for name in imported_modules(path)
        if name.split(".")[0] == "qwen3_rag" and any(part.startswith("_") for part in name.split(".")[1:])
    ]
