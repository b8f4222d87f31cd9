"""The quick loop's collection plugin (tests/support/quick_collect.py): a module whose ``pytestmark``
``-m`` excludes is not imported; any other expression imports everything, as pytest does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.quick_collect import excluded_marks, module_marks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("markexpr", "excluded"),
    [
        ("not models and not slow", {"models", "slow"}),
        ("not vllm", {"vllm"}),
        ("", set()),
        ("models", set()),  # selects: a module's mark cannot tell what it leaves out
        ("not models or slow", set()),
        ("not models and slow", set()),
        ("not (models or slow)", set()),
    ],
)
def test_only_a_conjunction_of_negations_excludes_modules(markexpr: str, excluded: set[str]) -> None:
    assert excluded_marks(markexpr) == excluded


@pytest.mark.parametrize(
    ("source", "marks"),
    [
        ("import pytest\npytestmark = pytest.mark.models\n", {"models"}),
        ("import pytest\npytestmark = [pytest.mark.vllm, pytest.mark.models]\n", {"vllm", "models"}),
        ('import pytest\npytestmark = pytest.mark.skipif(True, reason="x")\n', {"skipif"}),
        ("import pytest\n\n@pytest.mark.models\ndef test_one() -> None: ...\n", set()),  # not the module's
        ("def test_one() -> None: ...\n", set()),
    ],
)
def test_module_marks_are_read_from_the_source(tmp_path: Path, source: str, marks: set[str]) -> None:
    path = tmp_path / "test_it.py"
    path.write_text(source, encoding="utf-8")
    assert module_marks(path) == marks


@pytest.mark.slow  # two pytest subprocesses
def test_an_excluded_module_is_never_imported(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    models: builds a model\n", encoding="utf-8"
    )
    (tmp_path / "test_heavy.py").write_text(
        'import pytest\npytestmark = pytest.mark.models\nraise RuntimeError("imported")\n', encoding="utf-8"
    )
    (tmp_path / "test_light.py").write_text("def test_light() -> None: ...\n", encoding="utf-8")

    def collect(*flags: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pytest", "-p", "tests.support.quick_collect", "--co", "-q", *flags]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    quick = collect("-m", "not models")
    assert quick.returncode == 0 and "test_light.py::test_light" in quick.stdout, quick.stdout + quick.stderr
    assert "imported" not in quick.stdout + quick.stderr
    whole = collect()  # without -m the module is imported, and its error shows
    assert whole.returncode != 0 and "RuntimeError: imported" in whole.stdout
