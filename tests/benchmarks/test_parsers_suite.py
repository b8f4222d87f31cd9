"""The parsers suite: ``python -m benchmarks.run --quick --suites parsers`` writes its JSON and section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here runs the parsers suite

pytest.importorskip("markitdown", reason="the documents extra is in the test extra")


@pytest.mark.slow
def test_parsers_suite_measures_what_ingest_uses_and_renders_the_table(tmp_path: Path) -> None:
    from benchmarks.run import main

    assert main(["--quick", "--suites", "parsers", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "benchmarks-parsers.json").read_text())
    (row,) = data["parsers"]  # no other candidate's venv given: only what this environment has
    assert row["parser"] == "qwen3-rag"
    for fmt, result in row["formats"].items():
        assert result["marker"] and result["seconds_per_mb"] > 0, (fmt, result)
        if fmt != "pdf":  # pypdf scatters a drawn table's cells; markitdown keeps tables whole
            assert result["table_whole"], fmt
    text = (tmp_path / "benchmarks.md").read_text()
    assert "## Document parsers (issue 23)" in text and "| qwen3-rag | " in text
    assert "s/MB, table whole, 5/5 headings |" in text  # a measured cell, as the report writes it
