"""The qwen3-rag command end to end with the tiny models: ingest, query --json, chat, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qwen3_rag.testing import write_tiny_checkpoints
from tests.support.cli import run

pytestmark = pytest.mark.models  # every test here builds or loads a model


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "france.txt").write_text("Paris is the capital and largest city of France.", encoding="utf-8")
    (root / "python.md").write_text("# Python\nPython is a programming language.", encoding="utf-8")
    (root / "blob.bin").write_bytes(b"\x00\x01binary")
    return root


def test_ingest_query_chat_in_process(
    docs: Path, flags: list[str], tiny_embedding_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    code, out = run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags])
    assert code == 0, out
    assert "2 files, 2 chunks: 2 embedded" in out and "skipped 1 file" in out
    assert caplog.text.count("blob.bin") == 1 and "blob.bin" not in out  # named once, as it happens

    code, out = run(["ingest", str(docs), *flags])  # the collection's model is the default
    assert code == 0 and "0 embedded, 2 unchanged" in out

    code, out = run(["query", "capital of France?", "--json", "--top-n", "2", *flags])
    assert code == 0
    data = json.loads(out)
    assert data["query"] == "capital of France?" and len(data["results"]) == 2
    assert {"text", "source", "chunk_index", "retrieval_score", "rerank_score", "id"} <= set(
        data["results"][0]
    )
    assert data["results"][0]["rerank_score"] >= data["results"][1]["rerank_score"]

    code, out = run(["query", "capital", "--hybrid", "--filter", f"source={docs / 'python.md'}", *flags])
    assert code == 0 and "python.md" in out and "france.txt" not in out

    code, out = run(["chat", "--top-n", "1", *flags], stdin="capital of France?\n\nwhat is Python?\n")
    assert code == 0
    assert out.count("Top passages for:") == 2 and "capital of France?" in out and "what is Python?" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--collection", "missing"], "does not exist"),
        (["--dimensions", "32"], "holds vectors of"),
        (["--reranker-model", "/no/such/model"], "no such folder"),
        (["--qdrant-url", "http://127.0.0.1:9"], "Could not reach the Qdrant server"),
    ],
)
def test_clear_one_line_errors(
    docs: Path,
    flags: list[str],
    tiny_embedding_path: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    assert run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags])[0] == 0
    capsys.readouterr()
    argv = ["query", "q", *flags, *extra]
    if "--qdrant-url" in extra:
        argv.remove("--qdrant-path")
        argv.remove(str(tmp_path / "qdrant"))
    code, _ = run(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert err.startswith("qwen3-rag: error: ") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_wrong_embedding_model_for_a_collection(
    docs: Path, flags: list[str], tiny_embedding_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy-of-embedding"
    shutil.copytree(tiny_embedding_path, copy)  # same weights under another name: the same vectors
    other = write_tiny_checkpoints(tmp_path / "other", seed=41)["embedding"]  # other weights
    assert run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags])[0] == 0
    assert run(["ingest", str(docs), "--embedding-model", str(copy), *flags])[0] == 0
    capsys.readouterr()
    code, _ = run(["ingest", str(docs), "--embedding-model", str(other), *flags])
    err = capsys.readouterr().err
    assert code == 1 and "holds vectors of" in err and f"--embedding-model {tiny_embedding_path}" in err


def test_console_script_subprocess(docs: Path, flags: list[str], tiny_embedding_path: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "qwen3_rag._cli"]
    done = subprocess.run(
        [*command, "ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stderr and "blob.bin" in done.stderr
    assert "%|" not in done.stderr  # stderr is not a terminal: no progress bars
    done = subprocess.run(
        [*command, "chat", *flags], input="capital?\n", capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Top passages for: capital?" in done.stdout
    done = subprocess.run(
        [*command, "query", "q", *flags, "--collection", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("qwen3-rag: error: Collection 'nope'")


def test_min_score_on_query_and_chat(
    docs: Path, flags: list[str], tiny_embedding_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags])[0] == 0
    code, out = run(["query", "capital of France?", "--json", *flags])
    results = json.loads(out)["results"]
    assert code == 0 and len(results) == 2 and all("rerank_logit" in r for r in results)
    best = results[0]["rerank_score"]
    code, out = run(["query", "capital of France?", "--json", "--min-score", str(best), *flags])
    assert code == 0 and [r["id"] for r in json.loads(out)["results"]] == [results[0]["id"]]
    code, out = run(["query", "capital of France?", "--min-score", "1", *flags])
    assert code == 0 and "No passages found for: capital of France?" in out  # empty is an answer
    code, out = run(["chat", "--min-score", "1", *flags], stdin="capital of France?\n")
    assert code == 0 and "No passages found" in out
    capsys.readouterr()
    code, _ = run(["query", "capital", "--min-score", "1.5", *flags])
    err = capsys.readouterr().err
    assert code == 1 and "min_score=1.5" in err and "[0, 1]" in err
    with pytest.raises(SystemExit):
        run(["sources", "--min-score", "0.5", *flags[:4]])  # query and chat only
