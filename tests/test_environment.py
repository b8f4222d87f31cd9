"""The environment variables: one registry (``qwen3_rag/_environment.py``), read at use, listed in
the README's table, and read nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qwen3_rag import _environment as env

ROOT = Path(__file__).resolve().parent.parent
NAMES = {v.name for v in env.VARIABLES}


def _readme_rows() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z0-9_]+)` \| (.+?) \| .+ \|$", section, re.M)


def test_the_readme_table_lists_exactly_the_registry() -> None:
    rows = _readme_rows()
    assert [name for name, _ in rows] == [v.name for v in env.VARIABLES]
    assert dict(rows) == {v.name: v.read_by for v in env.VARIABLES}  # "read by" agrees too
    assert all(getattr(env, v.name) is v for v in env.VARIABLES)  # each one under its own name


def test_values_are_read_when_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QWEN3_RAG_SERVER", raising=False)
    assert env.QWEN3_RAG_SERVER.get() is None
    monkeypatch.setenv("QWEN3_RAG_SERVER", "http://h:8000/v1")
    assert env.QWEN3_RAG_SERVER.get() == "http://h:8000/v1"
    monkeypatch.setenv("QWEN3_RAG_SERVER", "")  # empty means unset
    assert env.QWEN3_RAG_SERVER.get() is None


@pytest.mark.parametrize(
    ("variable", "raw", "value"),
    [
        (env.QWEN3_RAG_PREFIX_CACHE, None, True),
        (env.QWEN3_RAG_PREFIX_CACHE, "1", True),
        (env.QWEN3_RAG_PREFIX_CACHE, "0", False),
        (env.QWEN3_RAG_PACKED_LINEAR, None, False),
        (env.QWEN3_RAG_PACKED_LINEAR, "1", True),
        (env.QWEN3_RAG_PACKED_LINEAR, "yes", False),
        (env.QWEN3_RAG_CPU_DTYPE, " BFloat16 ", "bfloat16"),
        (env.QWEN3_RAG_CPU_DTYPE, None, ""),
        (env.QWEN3_RAG_VLLM, "True", True),
        (env.QWEN3_RAG_VLLM, "0", False),
        (env.QWEN3_RAG_API_KEY, "", None),
        (env.QWEN3_RAG_BENCH_CACHE, "/x", "/x"),
        (env.OPENAI_API_KEY, "", ""),
    ],
)
def test_each_variable_parses_as_before(
    variable: env.Variable[object], raw: str | None, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv(variable.name, raising=False)
    else:
        monkeypatch.setenv(variable.name, raw)
    assert variable.get() == value


def _reads(tree: ast.AST) -> list[tuple[int, str]]:
    """``os.environ.get("NAME")``, ``os.getenv("NAME")``, ``os.environ["NAME"]`` read (not set)."""
    found = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in {"os.environ.get", "os.getenv", "environ.get", "getenv"}:
                name = node.args[0].value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) in {"os.environ", "environ"}
            and isinstance(node.slice, ast.Constant)
        ):
            name = node.slice.value
        if isinstance(name, str) and (name in NAMES or name.startswith("QWEN3_RAG_")):
            found.append((getattr(node, "lineno", 0), name))
    return found


def test_no_module_reads_a_variable_but_the_registry() -> None:
    # The examples are apps written as a user would (public API only): they read their own.
    readers = []
    for folder in ("qwen3_rag", "benchmarks", "integrations"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "_environment.py" or ".venv" in path.parts:
                continue
            for line, name in _reads(ast.parse(path.read_text(encoding="utf-8"))):
                readers.append(f"{path.relative_to(ROOT)}:{line} reads {name}")
    assert readers == []
