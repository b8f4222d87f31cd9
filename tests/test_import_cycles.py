"""No import circles in ``qwen3_rag/`` or ``benchmarks/``, counting the imports inside functions.

A function-local import hides a circle from Python (the module is complete by the time the
function runs) but not from a reader: two modules that need each other are one concern split in
two. Function-local imports stay where they keep a cold start light (``qwen3-rag --help`` imports
no torch); they must not close a loop. Imports under ``if TYPE_CHECKING:`` count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # ``from pkg import mod`` imports the submodule; ``from mod import name`` the module.
            targets = [f"{module}.{alias.name}" for alias in node.names] + [module]
        else:
            continue
        for target in targets:
            if target in known:
                found.add(target)
                if isinstance(node, ast.ImportFrom):
                    break  # a submodule named: not also its package (``from pkg import mod``)
    found.discard(name)
    return found


def _cycles(package: str) -> list[list[str]]:
    modules = _modules(package)
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return cycles


def test_the_cycle_finder_finds_a_function_local_circle(tmp_path: Path) -> None:
    sources = {"pkg.a": "from .b import f\n", "pkg.b": "def f():\n    from .a import g\n"}
    paths = {name: tmp_path / f"{name.split('.')[1]}.py" for name in sources}
    for name, source in sources.items():
        paths[name].write_text(source)
    graph = {name: _imports(name, path, set(sources)) for name, path in paths.items()}
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}


def test_no_import_circle_in_qwen3_rag() -> None:
    assert _cycles("qwen3_rag") == []


def test_no_import_circle_in_benchmarks() -> None:
    assert _cycles("benchmarks") == []
