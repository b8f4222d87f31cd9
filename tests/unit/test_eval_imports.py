"""``qwen3-rag eval`` is built on the public pipeline API only (issue 22): no module of
``qwen3_rag.evaluation`` imports a private pipeline module or a name the pipeline does not export."""

from __future__ import annotations

import ast
from pathlib import Path

import qwen3_rag.evaluation
import qwen3_rag.pipeline

EVALUATION = Path(qwen3_rag.evaluation.__file__).parent


def pipeline_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import of ``qwen3_rag.pipeline...`` in ``path`` (absolute or relative)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # relative to qwen3_rag.evaluation
                module = f"qwen3_rag.evaluation.{module}"
            elif node.level == 2:  # relative to qwen3_rag
                module = f"qwen3_rag.{module}".rstrip(".")
            names = [a.name for a in node.names]
            if module.startswith("qwen3_rag.pipeline"):
                found.append((module, names))
            elif module == "qwen3_rag" and "pipeline" in names:
                found.append(("qwen3_rag.pipeline", []))
        elif isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names if a.name.startswith("qwen3_rag.pipeline"))
    return found


def test_the_evaluation_package_imports_only_public_pipeline_names() -> None:
    files = sorted(EVALUATION.glob("*.py"))
    assert len(files) >= 8  # the package is where this test thinks it is
    public = set(qwen3_rag.pipeline.__all__)
    seen = []
    for path in files:
        for module, names in pipeline_imports(path):
            assert module == "qwen3_rag.pipeline", f"{path.name} imports the private module {module}"
            assert set(names) <= public, (
                f"{path.name} imports {sorted(set(names) - public)} from qwen3_rag.pipeline"
            )
            seen.append(path.name)
    assert {"_index.py", "_runs.py", "_evaluate.py"} <= set(seen)  # they do use the pipeline, publicly


def test_the_check_catches_a_private_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from ..pipeline._ingest import choose_chunker\nfrom ..pipeline import Ingestor\n")
    assert pipeline_imports(sample) == [
        ("qwen3_rag.pipeline._ingest", ["choose_chunker"]),
        ("qwen3_rag.pipeline", ["Ingestor"]),
    ]
