"""Each RAG chatbot example runs offline with the tiny models (as a subprocess, as a user would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.local_http import http_server_in_thread

pytestmark = pytest.mark.models  # every test here builds or loads a model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = ["langchain_chatbot.py", "llamaindex_chatbot.py"]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "france.txt").write_text("Paris is the capital and largest city of France.", encoding="utf-8")
    (root / "python.md").write_text("Python is a programming language.", encoding="utf-8")
    (root / "fox.md").write_text("The quick brown fox jumps over the lazy dog.", encoding="utf-8")
    return root


def add_headings(docs: Path) -> None:
    """Markdown with headings; of any two passages out of three, one is cited with its heading."""
    for name, heading in (("python.md", "Languages"), ("fox.md", "Animals")):
        (docs / name).write_text(
            f"# {heading}\n\n" + (docs / name).read_text(encoding="utf-8"), encoding="utf-8"
        )


CITED = ("python.md (python.md, Languages)", "fox.md (fox.md, Animals)")


NEEDS = {"langchain_chatbot.py": "langchain_qwen3_rag", "llamaindex_chatbot.py": "llama_index.core"}


def run_example(script: str, args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    pytest.importorskip(NEEDS[script], reason=f"{script} needs its framework installed")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("QDRANT_URL", None)
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def model_args(tmp_path: Path, embedding: str, reranker: str) -> list[str]:
    return ["--qdrant-path", str(tmp_path / "qdrant"), "--embedding-model", embedding,
            "--reranker-model", reranker, "--device", "cpu", "--top-n", "2"]  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_extractive_answers_with_sources(
    script: str, docs: Path, tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    add_headings(docs)
    args = ["--ingest", str(docs), *model_args(tmp_path, tiny_embedding_path, tiny_reranker_path)]
    done = run_example(script, args, stdin="What is the capital of France?\nWhat is Python?\n")
    assert done.returncode == 0, done.stderr
    assert "Ingested: 3 files, 3 chunks" in done.stderr
    assert done.stdout.count("Top passages for:") == 2
    assert done.stdout.count("[1] ") == 2 and "[3] " not in done.stdout  # top-n 2
    assert str(docs) in done.stdout and "rerank score" in done.stdout
    assert any(cited in done.stdout for cited in CITED)


@pytest.mark.parametrize("script", SCRIPTS)
def test_local_transformers_chat_model(
    script: str, docs: Path, tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    # The tiny reranker is a Qwen3 causal LM: good enough to exercise generation offline.
    chat = ["--chat-model", tiny_reranker_path, "--max-new-tokens", "4", "--question", "capital?"]
    args = ["--ingest", str(docs), *model_args(tmp_path, tiny_embedding_path, tiny_reranker_path), *chat]
    done = run_example(script, args)
    assert done.returncode == 0, done.stderr
    assert "Sources:\n[1] " in done.stdout and "Top passages" not in done.stdout


class _FakeOpenAI(BaseHTTPRequestHandler):
    requests: list[dict[str, object]] = []  # noqa: RUF012 - shared on purpose, read by the test

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Paris [1]."}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_endpoint() -> Iterator[str]:
    _FakeOpenAI.requests.clear()
    with http_server_in_thread(_FakeOpenAI) as root:
        yield f"{root}/v1"


@pytest.mark.parametrize("script", SCRIPTS)
def test_openai_compatible_endpoint(
    script: str,
    docs: Path,
    tmp_path: Path,
    tiny_embedding_path: str,
    tiny_reranker_path: str,
    fake_endpoint: str,
) -> None:
    add_headings(docs)
    args = ["--ingest", str(docs), *model_args(tmp_path, tiny_embedding_path, tiny_reranker_path),
            "--llm-url", fake_endpoint, "--llm-model", "qwen3:8b", "--question", "capital?"]  # fmt: skip
    done = run_example(script, args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Paris [1].") and "Sources:" in done.stdout
    assert any(cited in done.stdout.split("Sources:")[1] for cited in CITED)
    (request,) = _FakeOpenAI.requests
    assert request["path"] == "/v1/chat/completions" and request["model"] == "qwen3:8b"
    messages = request["messages"]
    assert isinstance(messages, list) and "capital?" in messages[-1]["content"]


def test_missing_collection_is_a_clear_error(tmp_path: Path, tiny_reranker_path: str) -> None:
    done = run_example(
        "langchain_chatbot.py",
        ["--qdrant-path", str(tmp_path / "q"), "--reranker-model", tiny_reranker_path, "--question", "x"],
    )
    assert done.returncode == 1 and "does not exist" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_ingest_into_a_matryoshka_collection_keeps_its_size(
    script: str, docs: Path, tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    """A collection made with --dimensions 32: the examples follow its size (they used the full one)."""
    from qwen3_rag._cli import main

    qdrant = ["--qdrant-path", str(tmp_path / "qdrant")]
    assert main(["ingest", str(docs), "--embedding-model", tiny_embedding_path, "--dimensions", "32",
                 *qdrant, "--no-progress"]) == 0  # fmt: skip
    (docs / "new.txt").write_text("Berlin is the capital of Germany.", encoding="utf-8")
    question = ["--question", "capital of Germany?"]
    options = ["--reranker-model", tiny_reranker_path, "--device", "cpu"]
    result = run_example(script, ["--ingest", str(docs), *qdrant, *options, *question])
    assert result.returncode == 0, result.stderr
    assert "1 embedded" in result.stderr and "new.txt" in result.stdout
