"""The examples are code to copy, so they stand on qwen3-rag's public API alone (issue 21): no
example imports a ``qwen3_rag._*`` or ``qwen3_rag.*._*`` module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import private_qwen3_rag_imports

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_examples_are_found_and_use_qwen3_rag() -> None:
    sources = sorted(EXAMPLES.glob("*.py"))
    assert {p.name for p in sources} >= {"chatbot_common.py", "langchain_chatbot.py", "llamaindex_chatbot.py"}
    assert "qwen3_rag.pipeline" in (EXAMPLES / "chatbot_common.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_no_example_imports_a_private_qwen3_rag_module(path: Path) -> None:
    private = private_qwen3_rag_imports(path)
    assert private == [], f"{path.name} imports private qwen3-rag names: {private}"


def test_the_check_catches_a_private_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import qwen3_rag._runtime.embedder\n"
        "from qwen3_rag.pipeline._opening import load_embedder_for\n"
        "from qwen3_rag import _environment, Qwen3Embedder\n"
        "from qwen3_rag.pipeline import Ingestor\n",
        encoding="utf-8",
    )
    assert private_qwen3_rag_imports(sample) == [
        "qwen3_rag._runtime.embedder",
        "qwen3_rag.pipeline._opening",
        "qwen3_rag.pipeline._opening.load_embedder_for",
        "qwen3_rag._environment",
    ]
