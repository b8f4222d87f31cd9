"""The remote backend's HTTP behaviour against a scripted fake server on 127.0.0.1.

The fake (``http.server`` in a thread, a real socket) answers ``/v1/models``, ``/v1/embeddings``
and ``/v1/rerank`` like a vLLM or qwen3-rag server would, and can be told to fail first: 503,
429 with ``Retry-After``, 413 above a number of inputs, 400. What is checked: retries with
backoff then success (sync and async), retries bounded, no retry of a 400, splitting into
bounded requests (in input order), halving on 413, the vLLM request shapes (token ids ending in
one ``<|endoftext|>``; the reranker template applied client-side), and the clear error on a dead
URL or a server that never answers, within the timeout.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from qwen3_rag import (
    InvalidOptionError,
    Qwen3Embedder,
    Qwen3Reranker,
    RemoteBackendError,
    WrongModelKindError,
)
from qwen3_rag._prompts import RERANKER_PREFIX, RERANKER_SUFFIX
from qwen3_rag._runtime.remote import RemoteBackend
from tests.support.local_http import http_server_in_thread
from tests.support.server_helpers import free_port

pytestmark = pytest.mark.models  # every test here builds or loads a model

DIMS = 40


class Fake:
    """What the fake server does; tests change ``failures``, ``max_inputs``, ``owner``."""

    def __init__(self) -> None:
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.max_inputs: int | None = None
        self.owner = "vllm"
        self.kind: str | None = None
        self.requests: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append((path, body))
            if method == "POST" and self.failures:
                status, headers = self.failures.pop(0)
                return status, headers, {"error": {"message": f"scripted {status}", "type": "x"}}
        if path == "/v1/models":
            card: dict[str, Any] = {"id": "fake-model", "object": "model", "owned_by": self.owner}
            if self.kind:
                card["kind"] = self.kind
            return 200, {}, {"object": "list", "data": [card]}
        items = body.get("input") if path == "/v1/embeddings" else body.get("documents")
        if self.max_inputs is not None and len(items) > self.max_inputs:
            return 413, {}, {"error": {"message": f"{len(items)} inputs is too many", "type": "x"}}
        if path == "/v1/embeddings":
            size = body.get("dimensions", DIMS)
            data = [
                {"object": "embedding", "index": i, "embedding": _vector(ids, size)}
                for i, ids in enumerate(items)
            ]
            data.reverse()  # answers may come in any order: the index says which is which
            return 200, {}, {"object": "list", "data": data}
        if path == "/v1/rerank":
            results = [{"index": i, "relevance_score": 1.0 / (1 + len(d))} for i, d in enumerate(items)]
            results.sort(key=lambda r: -r["relevance_score"])
            return 200, {}, {"results": results}
        return 404, {}, {"error": {"message": "no such path"}}


def _vector(ids: list[int], size: int) -> list[float]:
    """A vector that tells inputs apart: its first component is the number of ids."""
    return [float(len(ids)), float(sum(ids) % 97 + 1)] + [1.0] * (size - 2)


@pytest.fixture
def fake() -> Iterator[tuple[Fake, str]]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, headers, payload = state.answer(method, self.path, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, *args: Any) -> None:
            pass

    with http_server_in_thread(Handler, ThreadingHTTPServer) as root:
        yield state, f"{root}/v1"


def _embedder(path: str, url: str, **options: Any) -> Qwen3Embedder:
    return Qwen3Embedder.load(path, base_url=url, served_model="fake-model", **options)


def _posts(fake: Fake, path: str) -> list[Any]:
    return [body for p, body in fake.requests if p == path]


TEXTS = [f"text number {i} " * (i + 1) for i in range(7)]


def test_embedding_requests_are_token_ids_ending_in_one_end_token(
    fake: tuple[Fake, str], tiny_embedding_path: str
) -> None:
    state, url = fake
    embedder = _embedder(tiny_embedding_path, url)
    assert embedder.hidden_size == DIMS  # no size in /v1/models: found by one probe request
    assert embedder.fingerprint is None and embedder.remote and embedder.base_url == url
    vectors = embedder.embed_documents(TEXTS)
    (body,) = _posts(state, "/v1/embeddings")[1:]
    expected_ids = embedder.encode_ids(TEXTS)
    end = embedder.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert body["input"] == expected_ids and all(ids[-1] == end and ids[-2] != end for ids in body["input"])
    assert body["model"] == "fake-model" and body["encoding_format"] == "base64"
    assert "dimensions" not in body  # the full size: nothing to ask for
    assert [
        round(float(v[0] * np.linalg.norm(_vector(ids, DIMS))))
        for v, ids in zip(vectors, expected_ids, strict=True)
    ] == [len(ids) for ids in expected_ids]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    small = embedder.with_options(dimensions=32)
    assert small.embed_queries(["q"]).shape == (1, 32)
    assert _posts(state, "/v1/embeddings")[-1]["dimensions"] == 32
    formatted = small.procedure.format_queries(["q"])
    assert _posts(state, "/v1/embeddings")[-1]["input"] == small.encode_ids(formatted)


def test_retries_503_and_429_then_succeeds(fake: tuple[Fake, str], tiny_embedding_path: str) -> None:
    state, url = fake
    embedder = _embedder(tiny_embedding_path, url, max_retries=3, timeout=20)
    expected = embedder.embed_documents(TEXTS[:2])
    before = len(state.requests)
    state.failures = [(503, {}), (429, {"Retry-After": "0"}), (502, {})]
    np.testing.assert_array_equal(embedder.embed_documents(TEXTS[:2]), expected)
    assert len(state.requests) - before == 4
    state.failures = [(429, {"Retry-After": "0"}), (503, {})]
    np.testing.assert_array_equal(asyncio.run(embedder.aembed_documents(TEXTS[:2])), expected)
    assert len(state.requests) - before == 7


def test_retry_after_is_honoured(fake: tuple[Fake, str], tiny_reranker_path: str) -> None:
    state, url = fake
    reranker = Qwen3Reranker.load(tiny_reranker_path, base_url=url, served_model="fake-model")
    state.failures = [(429, {"Retry-After": "1"})]
    started = time.monotonic()
    assert len(reranker.score("q", ["a", "b"])) == 2
    assert 1.0 <= time.monotonic() - started < 5.0


def test_retries_are_bounded_and_a_400_is_not_retried(
    fake: tuple[Fake, str], tiny_embedding_path: str
) -> None:
    state, url = fake
    embedder = _embedder(tiny_embedding_path, url, max_retries=2)
    before = len(state.requests)
    state.failures = [(503, {})] * 5
    with pytest.raises(RemoteBackendError, match="HTTP 503: scripted 503 after 3 attempts") as busy:
        embedder.embed_documents(["x"])
    assert busy.value.status == 503 and busy.value.url == f"{url}/embeddings"
    assert isinstance(busy.value, ConnectionError)
    assert len(state.requests) - before == 3
    state.failures = [(400, {})]
    with pytest.raises(RemoteBackendError, match="HTTP 400: scripted 400") as bad:
        asyncio.run(embedder.aembed_documents(["x"]))
    assert bad.value.status == 400 and len(state.requests) - before == 4
    state.failures = []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_large_inputs_are_split_into_bounded_requests_in_order(
    fake: tuple[Fake, str], tiny_embedding_path: str, mode: str
) -> None:
    state, url = fake
    embedder = _embedder(tiny_embedding_path, url, timeout=31)  # its own backend: limits changed below
    backend = embedder.backend
    assert isinstance(backend, RemoteBackend)
    whole = embedder.embed_documents(TEXTS)
    backend.max_inputs = 3
    before = len(_posts(state, "/v1/embeddings"))
    split = (
        embedder.embed_documents(TEXTS) if mode == "sync" else asyncio.run(embedder.aembed_documents(TEXTS))
    )
    sizes = [len(body["input"]) for body in _posts(state, "/v1/embeddings")[before:]]
    assert sorted(sizes) == [1, 3, 3]
    np.testing.assert_array_equal(split, whole)
    backend.max_inputs, backend.max_request_bytes = 100, 300  # bytes bound: ids of long texts
    before = len(_posts(state, "/v1/embeddings"))
    np.testing.assert_array_equal(embedder.embed_documents(TEXTS), whole)
    bodies = _posts(state, "/v1/embeddings")[before:]
    assert len(bodies) > 1 and sum(len(b["input"]) for b in bodies) == len(TEXTS)
    assert all(len(json.dumps(b["input"])) <= 300 or len(b["input"]) == 1 for b in bodies)


def test_a_413_halves_the_request(
    fake: tuple[Fake, str], tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    state, url = fake
    embedder = _embedder(tiny_embedding_path, url)
    whole = embedder.embed_documents(TEXTS)
    state.max_inputs = 2
    np.testing.assert_array_equal(embedder.embed_documents(TEXTS), whole)
    np.testing.assert_array_equal(asyncio.run(embedder.aembed_documents(TEXTS)), whole)
    reranker = Qwen3Reranker.load(tiny_reranker_path, base_url=url, served_model="fake-model")
    scores = reranker.score("q", TEXTS)
    assert asyncio.run(reranker.ascore("q", TEXTS)) == scores
    assert len(scores) == len(TEXTS) and scores == sorted(scores, reverse=True)  # longer, lower
    assert max(len(body["documents"]) for body in _posts(state, "/v1/rerank")) == len(TEXTS)  # the 413s


def test_vllm_rerank_request_carries_the_template(fake: tuple[Fake, str], tiny_reranker_path: str) -> None:
    state, url = fake
    reranker = Qwen3Reranker.load(tiny_reranker_path, base_url=url, served_model="fake-model")
    assert reranker.backend.api == "vllm"  # type: ignore[attr-defined]
    documents = ["Paris is the capital of France.", "", "Bananas are yellow."]
    scores = reranker.score("capital of France?", documents, instruction="Find the capital")
    (body,) = _posts(state, "/v1/rerank")
    assert body["query"] == RERANKER_PREFIX + "<Instruct>: Find the capital\n<Query>: capital of France?\n"
    assert body["documents"] == [f"<Document>: {d}{RERANKER_SUFFIX}" for d in documents]
    assert scores == [1.0 / (1 + len(d)) for d in body["documents"]]  # mapped back by index


def test_qwen3_rag_rerank_request_sends_the_parts(fake: tuple[Fake, str], tiny_reranker_path: str) -> None:
    state, url = fake
    state.owner, state.kind = "qwen3-rag", "reranker"
    reranker = Qwen3Reranker.load(tiny_reranker_path, base_url=url, served_model="fake-model")
    assert reranker.backend.api == "qwen3-rag"  # type: ignore[attr-defined]
    reranker.score("capital?", ["Paris."])
    (body,) = _posts(state, "/v1/rerank")
    assert body == {
        "model": "fake-model",
        "query": "capital?",
        "documents": ["Paris."],
        "instruction": reranker.instruction,
    }
    with pytest.raises(WrongModelKindError, match="served as a reranker model") as info:
        _embedder(tiny_reranker_path, url)
    assert (info.value.expected, info.value.found) == ("embedding", "reranker")


def test_model_names_must_match_what_the_server_serves(
    fake: tuple[Fake, str], tiny_embedding_path: str
) -> None:
    _, url = fake
    with pytest.raises(InvalidOptionError, match=r"serves 'fake-model'.*served_model="):
        Qwen3Embedder.load(tiny_embedding_path, base_url=url)
    with pytest.raises(InvalidOptionError, match="device='cpu' applies to a model run on this machine"):
        Qwen3Embedder.load(tiny_embedding_path, base_url=url, device="cpu")
    with pytest.raises(InvalidOptionError, match="base_url="):
        Qwen3Embedder.load(tiny_embedding_path, base_url="127.0.0.1:8000")


def test_a_dead_url_fails_fast_with_the_clear_error(tiny_embedding_path: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(
        RemoteBackendError, match=r"could not be reached.*Check that the server is running"
    ) as error:
        Qwen3Embedder.load(tiny_embedding_path, base_url=url, timeout=5)
    assert time.monotonic() - started < 5.0
    assert error.value.status is None and error.value.url == f"{url}/models"
    assert url in str(error.value)


def test_a_server_that_never_answers_fails_within_the_timeout(tiny_embedding_path: str) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        started = time.monotonic()
        with pytest.raises(RemoteBackendError, match=r"did not answer within timeout=1 s"):
            Qwen3Embedder.load(tiny_embedding_path, base_url=url, timeout=1)
        assert time.monotonic() - started < 3.0


def test_vllm_probabilities_give_log_odds_and_rank(fake: tuple[Fake, str], tiny_reranker_path: str) -> None:
    """vLLM returns P(yes) only: the log-odds are derived (log p - log(1 - p)); rank and min_score
    work on the remote scores as on local ones."""
    _, url = fake
    reranker = Qwen3Reranker.load(tiny_reranker_path, base_url=url, served_model="fake-model")
    documents = ["Paris is the capital of France.", "", "Bananas are yellow."]
    result = reranker.scores("capital of France?", documents)
    expected = [1.0 / (1 + len(f"<Document>: {d}{RERANKER_SUFFIX}")) for d in documents]
    assert result.scores == expected
    np.testing.assert_allclose(result.logits, [np.log(p / (1 - p)) for p in expected], rtol=1e-12)
    ranked = reranker.rank("capital of France?", documents, min_score=expected[2])  # shorter, higher
    assert [r.index for r in ranked] == [1, 2] and ranked[0].logit == result.logits[1]
    assert asyncio.run(reranker.arank("capital of France?", documents, top_n=1)) == ranked[:1]


def test_a_server_logit_is_used_as_sent(fake: tuple[Fake, str], tiny_reranker_path: str) -> None:
    state, url = fake
    state.owner, state.kind = "qwen3-rag", "reranker"
    reranker = Qwen3Reranker.load(tiny_reranker_path, base_url=url, served_model="fake-model")
    original = state.answer

    def with_logits(method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        status, headers, answer = original(method, path, body)
        if path == "/v1/rerank" and status == 200:
            for result in answer["results"]:
                result["relevance_logit"] = 40.0 + result["index"]  # beyond what a probability holds
        return status, headers, answer

    state.answer = with_logits  # type: ignore[method-assign]
    assert reranker.score_logits("capital?", ["Paris.", "x"]) == [40.0, 41.0]
