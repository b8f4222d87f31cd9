"""The command line on bad input: a table of arguments with the exit code and message each gets,
against a real ingested store.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qwen3_rag._cli import main

pytestmark = pytest.mark.models  # every test here builds or loads a model


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, stdout=out, stdin=io.StringIO("")), out.getvalue()


@pytest.fixture(scope="module")
def cli_store(
    tmp_path_factory: pytest.TempPathFactory, tiny_embedding_path: str, tiny_reranker_path: str
) -> list[str]:
    root = tmp_path_factory.mktemp("cli-reliability")
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text("Paris is the capital of France.", encoding="utf-8")
    flags = ["--qdrant-path", str(root / "qdrant"), "--collection", "kb", "--device", "cpu", "--no-progress"]
    code, out = run_cli(["ingest", str(root / "docs"), "--embedding-model", tiny_embedding_path, *flags])
    assert code == 0, out
    return [*flags, "--reranker-model", tiny_reranker_path]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["query", "q", "--top-k", "0"], 1, "top_k must be a positive integer, got 0"),
        (["query", "q", "--top-n", "-2"], 1, "top_n must be a positive integer, got -2"),
        (["query", "q", "--top-k", "2.5"], 2, "invalid int value: '2.5'"),
        (["query", "q", "--top-n", "many"], 2, "invalid int value: 'many'"),
        (["query", "q", "--filter", "novalue"], 1, "--filter wants FIELD=VALUE"),
        (["ingest", "{empty}", "--batch-size", "0"], 1, "batch_size"),
        (["ingest", "{empty}", "--chunk-tokens", "0"], 1, "chunk_tokens must be a positive integer"),
        (["ingest", "{empty}"], 0, ""),
    ],
    ids=[
        "top-k-zero",
        "top-n-negative",
        "top-k-float",
        "top-n-word",
        "filter-without-equals",
        "batch-size-zero",
        "chunk-tokens-zero",
        "empty-folder-ok",
    ],
)
def test_bad_input_cli_table(
    cli_store: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    (tmp_path / "empty").mkdir()
    argv = [str(tmp_path / "empty") if a == "{empty}" else a for a in argv]
    capsys.readouterr()
    if code == 2:  # argparse's own usage error
        with pytest.raises(SystemExit) as exit_info:
            run_cli([*argv, *cli_store])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
        return
    status, out = run_cli([*argv, *cli_store])
    err = capsys.readouterr().err
    assert status == code, err
    if code:
        line = err.strip().splitlines()[-1]
        assert line.startswith("qwen3-rag: error: ") and message in line and "Traceback" not in err
    else:
        assert "0 files, 0 chunks" in out and "Collection 'kb': 1 chunk" in out
