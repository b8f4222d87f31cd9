"""The command line speaks command line: remedies name flags and `hf download`, never Python calls;
a Hub id the Hub cannot provide fails at once (one attempt), not after minutes of retries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qwen3_rag import ModelLoadError
from qwen3_rag._runtime.remote import load_tokenizer
from tests.support.cli import run


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qwen3-rag: error: "), lines
    return lines[0]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("alpha", encoding="utf-8")
    return tmp_path / "docs"


def test_a_missing_model_names_the_flag_and_hf_download(
    docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(
        ["ingest", str(docs), "--qdrant-path", str(tmp_path / "q"), "--embedding-model", "/no/model"]
    )
    line = error_line(capsys)
    assert code == 1 and "Model '/no/model': there is no such folder" in line
    assert "--embedding-model DIR" in line and "hf download /no/model" in line
    assert "load(" not in line and "huggingface-cli" not in line


def test_an_unreachable_hub_fails_at_once_in_flags(
    docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An endpoint that refuses connections stands in for an offline machine (no network in tests).
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    started = time.monotonic()
    code, _ = run(
        ["ingest", str(docs), "--qdrant-path", str(tmp_path / "q"), "--embedding-model", "Qwen/Nope-0.6B"]
    )
    line = error_line(capsys)
    assert code == 1 and time.monotonic() - started < 15
    assert "'Qwen/Nope-0.6B' is not on this machine, and the Hugging Face Hub could not provide it" in line
    assert "--embedding-model DIR" in line and "--embedding-url" in line


def test_a_remote_models_tokenizer_tries_the_hub_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: transformers' per-file downloads, each retried 5 times with back-off (273 s offline).
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as info:
        load_tokenizer("Qwen/Nope-Embedding-0.6B")
    assert time.monotonic() - started < 15
    assert (info.value.model, info.value.reason) == ("Qwen/Nope-Embedding-0.6B", "hub_unavailable")


def test_a_model_of_the_wrong_kind_names_both_flags(
    docs: Path, tmp_path: Path, tiny_reranker_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--qdrant-path", str(tmp_path / "q"), "--no-progress", "--device", "cpu"]
    code, _ = run(["ingest", str(docs), *flags, "--embedding-model", tiny_reranker_path])
    line = error_line(capsys)
    assert code == 1 and f"Model {tiny_reranker_path!r} is a reranker model, not an embedding model" in line
    assert "pass it with --reranker-model, and give --embedding-model a Qwen/Qwen3-Embedding-* model" in line


def test_chunk_overlap_against_chunk_tokens_names_both_flags(
    docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ingest", str(docs), "--qdrant-path", str(tmp_path / "q"), "--chunk-tokens", "32"]
    code, _ = run([*argv, "--chunk-overlap", "64", "--embedding-model", "/no/model"])
    assert code == 1
    assert error_line(capsys).endswith("--chunk-overlap (64) must be smaller than --chunk-tokens (32).")
    assert not (tmp_path / "q").exists()  # refused before the store is made
