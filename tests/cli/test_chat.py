"""``qwen3-rag chat --llm-url``: the command's own OpenAI-compatible client, its errors, and the
deprecated ``qwen3_rag.pipeline`` names it replaced."""

from __future__ import annotations

import io
import json
import pickle
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from qwen3_rag import ChatEndpointError, InvalidOptionError, Qwen3RagError, StoreConnectionError
from qwen3_rag._cli import main
from qwen3_rag._cli.answers import OpenAICompatibleChat, build_messages, extractive_answer
from tests.support.local_http import http_server_in_thread


class _Endpoint(BaseHTTPRequestHandler):
    requests: list[dict[str, object]] = []  # noqa: RUF012 - shared on purpose, read by the tests
    status = 200
    reply: object = {"choices": [{"message": {"role": "assistant", "content": " Paris [1]. "}}]}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        data = json.dumps(self.reply).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Endpoint.requests = []
    _Endpoint.status = 200
    _Endpoint.reply = {"choices": [{"message": {"role": "assistant", "content": " Paris [1]. "}}]}
    with http_server_in_thread(_Endpoint) as root:
        yield f"{root}/v1/"


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


PASSAGES = [{"text": "Paris is the capital of France.", "source": "/docs/france.txt", "rerank_score": 0.9}]


def test_the_client_posts_a_chat_completion(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    chat = OpenAICompatibleChat(endpoint, "qwen3:8b", temperature=0.0)
    assert chat.complete(build_messages("capital?", PASSAGES)) == "Paris [1]."
    (request,) = _Endpoint.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["model"] == "qwen3:8b" and request["temperature"] == 0.0
    messages = request["messages"]
    assert isinstance(messages, list) and "[1] (source: /docs/france.txt)" in messages[-1]["content"]
    assert "rerank score 0.900" in extractive_answer("capital?", PASSAGES)


@pytest.mark.parametrize(
    ("status", "reply", "message"),
    [
        (500, {"error": "model not loaded"}, 'answered HTTP 500: {"error": "model not loaded"}'),
        (404, {"detail": "Not Found"}, "answered HTTP 404"),
        (200, {"object": "list"}, "not a chat completion"),
        (200, [], "not a chat completion"),
    ],
)
def test_endpoint_failures_are_chat_endpoint_errors(
    endpoint: str, status: int, reply: object, message: str
) -> None:
    _Endpoint.status, _Endpoint.reply = status, reply
    chat = OpenAICompatibleChat(endpoint, "qwen3")
    with pytest.raises(ChatEndpointError, match=message) as info:
        chat.complete([{"role": "user", "content": "hi"}])
    assert info.value.url == endpoint.rstrip("/") + "/chat/completions" and info.value.status == status
    assert isinstance(info.value, Qwen3RagError) and isinstance(info.value, ConnectionError)
    assert not isinstance(info.value, StoreConnectionError)  # not the Qdrant store's error any more


def test_an_unreachable_endpoint_is_a_chat_endpoint_error() -> None:
    url = _closed_url()
    with pytest.raises(ChatEndpointError, match="Could not reach the chat model") as info:
        OpenAICompatibleChat(url, "qwen3", timeout=5).complete([{"role": "user", "content": "hi"}])
    assert info.value.url == url + "/chat/completions" and info.value.status is None
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.url, copy.status) == (str(info.value), info.value.url, None)


def test_a_url_without_scheme_is_refused_when_built() -> None:
    with pytest.raises(InvalidOptionError, match="http:// or https://"):
        OpenAICompatibleChat("localhost:11434/v1", "qwen3")


# ----------------------------------------------------------------- the command
@pytest.fixture
def ingested(tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str) -> list[str]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "france.txt").write_text("Paris is the capital and largest city of France.", encoding="utf-8")
    flags = ["--qdrant-path", str(tmp_path / "q"), "--reranker-model", tiny_reranker_path, "--device", "cpu"]
    flags += ["--no-progress"]
    assert (
        main(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags], stdout=io.StringIO())
        == 0
    )
    return flags


def _chat(argv: list[str], stdin: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["chat", *argv], stdout=out, stdin=io.StringIO(stdin)), out.getvalue()


def test_chat_answers_through_the_endpoint(ingested: list[str], endpoint: str) -> None:
    code, out = _chat([*ingested, "--llm-url", endpoint, "--llm-model", "qwen3:8b"], "capital?\n")
    assert code == 0 and out.startswith("Paris [1].\nSources: ") and "france.txt" in out
    (request,) = _Endpoint.requests
    assert request["model"] == "qwen3:8b"


def test_a_bad_llm_url_is_refused_before_the_session_in_one_line(
    ingested: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, _ = _chat([*ingested, "--llm-url", "localhost:11434/v1"], "capital?\n")
    err = capsys.readouterr().err.strip()
    message = "--llm-url (base_url) 'localhost:11434/v1': it must be an http://"
    assert code == 1 and err.startswith(f"qwen3-rag: error: {message}") and "\n" not in err


def test_a_failed_llm_call_says_so_in_one_line_and_the_session_goes_on(
    ingested: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, out = _chat([*ingested, "--llm-url", _closed_url()], "capital?\nlargest city?\n")
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 0 and len(lines) == 2  # both questions asked, each failure one line
    assert all(
        line.startswith("qwen3-rag: Could not reach the chat model at http://127.0.0.1:") for line in lines
    )
    assert all(line.endswith("Showing the passages instead.") for line in lines)
    assert out.count("Paris is the capital and largest city of France.") == 2  # the passages, quoted
