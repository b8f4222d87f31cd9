"""The remote client against hostile servers: a real deadline per call, and answers checked.

Raw-socket servers on 127.0.0.1 (``hostile_servers``) trickle an answer one byte every 0.5 s (in
the headers or in the body), send garbage, truncate, or stall; fakes of a server, because a
misbehaving server is what is tested. The client must end every call by its ``timeout`` (connect,
every read, every retry: all of it) and must refuse any answer that is not ``count`` finite vectors
of the expected size (or ``count`` scores) with :class:`RemoteBackendError`. The property-based
part feeds random bodies, truncations and stalls, each example bounded in time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen3_rag import Qwen3Embedder, RemoteBackendError
from qwen3_rag._runtime.http import HttpClient
from qwen3_rag._runtime.remote import _scores, _vectors
from qwen3_rag.testing import write_tiny_tokenizer
from tests.support.hostile_servers import http_response, scripted_server, send_then, trickle

BIG_BODY = b"[" + b" " * 200_000 + b"]"
HEADERS_THEN_BIG = http_response(BIG_BODY)


def _client(url: str, timeout: float, retries: int = 3) -> HttpClient:
    return HttpClient(url, api_key=None, timeout=timeout, max_retries=retries)


@pytest.mark.slow
def test_a_trickling_server_ends_a_timeout_8_call_in_under_10_s() -> None:
    """The body comes one byte every 0.5 s: each read succeeds, so per-read timeouts never fire
    (today's code ran such a call for 107 s); the call's deadline ends it."""
    with scripted_server() as server:
        server.script = trickle(HEADERS_THEN_BIG, 0.5, stop_after_s=40)
        client = _client(server.base_url, timeout=8)
        started = time.monotonic()
        with pytest.raises(RemoteBackendError, match=r"did not answer within timeout=8 s") as error:
            client.request("POST", "embeddings", {"input": [[1, 2]]})
        elapsed = time.monotonic() - started
        client.close()
    assert 7.5 < elapsed < 10.0, elapsed
    assert error.value.status is None and error.value.url.endswith("/v1/embeddings")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["headers", "body"])
async def test_an_async_call_to_a_trickling_server_ends_by_its_timeout(where: str) -> None:
    payload = HEADERS_THEN_BIG
    with scripted_server() as server:
        if where == "headers":
            server.script = trickle(payload, 0.5, stop_after_s=20)
        else:  # the headers at once, then the body in drops

            def script(conn: socket.socket, request: bytes) -> None:
                conn.sendall(payload[:120])
                trickle(payload[120:], 0.5, stop_after_s=20)(conn, request)

            server.script = script
        client = _client(server.base_url, timeout=2)
        started = time.monotonic()
        with pytest.raises(RemoteBackendError, match=r"did not answer within timeout=2 s"):
            await client.arequest("POST", "rerank", {"query": "q", "documents": ["d"]})
        assert time.monotonic() - started < 4.0  # the 2 s deadline, plus slack on a shared machine
        client.close()


@pytest.mark.slow
def test_retries_and_their_backoff_stay_inside_the_deadline() -> None:
    """503 with ``Retry-After: 0.4`` at once, forever: retried while the deadline allows, then one
    error; never longer than the timeout."""
    with scripted_server() as server:
        body = json.dumps({"error": {"message": "busy"}}).encode()
        answer = http_response(body, status="503 Service Unavailable")
        server.script = send_then(answer.replace(b"\r\n\r\n", b"\r\nRetry-After: 0.4\r\n\r\n", 1))
        client = _client(server.base_url, timeout=1.5, retries=50)
        started = time.monotonic()
        with pytest.raises(RemoteBackendError, match=r"HTTP 503"):
            client.request("POST", "embeddings", {"input": [[1]]})
        assert time.monotonic() - started < 3.0  # the 1.5 s deadline, plus slack on a shared machine
        client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_calls() -> None:
    """Synchronous calls run on the client's loop thread; a child forked after a call has none,
    and must start its own rather than wait forever."""
    with scripted_server() as server:
        server.script = send_then(http_response(b'{"ok": 1}'))
        client = _client(server.base_url, timeout=5)
        assert client.request("GET", "models") == {"ok": 1}
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 only if its call answers
            try:
                os._exit(0 if client.request("GET", "models") == {"ok": 1} else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        client.close()
    assert os.waitstatus_to_exitcode(status) == 0


# ----------------------------------------------------------------------------- answers checked
@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny embedding tokenizer alone: a remote model tokenizes here, and builds no model."""
    folder = tmp_path_factory.mktemp("remote-tokenizer")
    write_tiny_tokenizer(Path(folder), 512, True)
    return str(folder)


def _model_server(card_dims: int, vectors: Any) -> Any:
    """A script answering ``/v1/models`` with a 64-dimension card and embeddings with ``vectors``."""

    def script(conn: socket.socket, request: bytes) -> None:
        if request.startswith(b"GET /v1/models"):
            card = {"id": "m", "object": "model", "owned_by": "qwen3-rag", "kind": "embedding"}
            body: Any = {"object": "list", "data": [{**card, "dimensions": card_dims}]}
        else:
            count = len(json.loads(request.partition(b"\r\n\r\n")[2])["input"])
            body = {"object": "list", "data": vectors(count)}
        conn.sendall(http_response(json.dumps(body).encode()))

    return script


@pytest.mark.parametrize(
    ("case", "vectors"),
    [
        (
            "2 dimensions for a 64-dimension model",
            lambda n: [{"index": i, "embedding": [0.5, 0.5]} for i in range(n)],
        ),
        ("one vector too few", lambda n: [{"index": i, "embedding": [0.1] * 64} for i in range(n - 1)]),
        ("an index twice", lambda n: [{"index": 0, "embedding": [0.1] * 64} for _ in range(n)]),
        ("NaN in a vector", lambda n: [{"index": i, "embedding": [float("nan")] * 64} for i in range(n)]),
        (
            "base64 of 3 floats",
            lambda n: [
                {"index": i, "embedding": base64.b64encode(np.ones(3, "<f4").tobytes()).decode()}
                for i in range(n)
            ],
        ),
        ("strings for numbers", lambda n: [{"index": i, "embedding": ["1"] * 64} for i in range(n)]),
    ],
)
def test_wrong_vectors_from_a_server_raise_remote_backend_error(
    tokenizer_folder: str, case: str, vectors: Any
) -> None:
    with scripted_server() as server:
        server.script = _model_server(64, vectors)
        embedder = Qwen3Embedder.load(tokenizer_folder, base_url=server.base_url, served_model="m", timeout=5)
        assert embedder.hidden_size == 64
        with pytest.raises(RemoteBackendError, match="not with valid OpenAI embeddings") as error:
            embedder.embed_documents(["one", "two"])
        assert error.value.status == 200
        embedder.close()


def test_right_vectors_still_pass(tokenizer_folder: str) -> None:
    with scripted_server() as server:
        server.script = _model_server(
            64, lambda n: [{"index": i, "embedding": [0.25] * 64} for i in range(n)]
        )
        embedder = Qwen3Embedder.load(tokenizer_folder, base_url=server.base_url, served_model="m", timeout=5)
        vectors = embedder.embed_documents(["one", "two"])
        embedder.close()
    assert vectors.shape == (2, 64) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


@pytest.mark.parametrize(
    "results",
    [
        [{"index": 0, "relevance_score": 0.5}],  # one of two
        [{"index": 0, "relevance_score": 0.5}, {"index": 0, "relevance_score": 0.4}],
        [{"index": 0, "relevance_score": 0.5}, {"index": 1, "relevance_score": 1.5}],
        [{"index": 0, "relevance_score": 0.5}, {"index": 1, "relevance_score": "0.4"}],
        [{"index": 0, "relevance_score": 0.5}, {"index": 1.0, "relevance_score": 0.4}],
        [
            {"index": 0, "relevance_score": 0.5},
            {"index": 1, "relevance_score": 0.4, "relevance_logit": 1e999},
        ],
        [{"index": 0, "relevance_score": 0.5}, {"index": 7, "relevance_score": 0.4}],
    ],
)
def test_wrong_scores_raise_remote_backend_error(results: list[dict[str, Any]]) -> None:
    with pytest.raises(RemoteBackendError, match="not with valid rerank results"):
        _scores({"results": results}, 2, "http://x/v1/rerank")


# ----------------------------------------------------------------------------- properties
_json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_embedding_like = st.fixed_dictionaries(
    {
        "data": st.lists(
            st.fixed_dictionaries(
                {
                    "index": st.integers(-1, 3) | st.floats() | st.text(max_size=2),
                    "embedding": st.lists(st.floats(width=32), max_size=6) | st.text(max_size=12),
                }
            ),
            max_size=4,
        )
    }
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(answer=_json_values | _embedding_like, count=st.integers(1, 3), width=st.sampled_from([None, 4]))
def test_any_embeddings_answer_is_valid_vectors_or_remote_backend_error(
    answer: Any, count: int, width: int | None
) -> None:
    try:
        vectors = _vectors(answer, count, "http://x/v1/embeddings", width)
    except RemoteBackendError:
        return
    assert vectors.dtype == np.float32 and vectors.shape[0] == count and np.isfinite(vectors).all()
    assert vectors.shape[1] > 0 and (width is None or vectors.shape[1] == width)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    answer=_json_values
    | st.fixed_dictionaries(
        {
            "results": st.lists(
                st.fixed_dictionaries(
                    {"index": st.integers(-1, 3), "relevance_score": st.floats() | st.integers(-1, 2)},
                    optional={"relevance_logit": st.floats() | st.none()},
                ),
                max_size=4,
            )
        }
    ),
    count=st.integers(1, 3),
)
def test_any_rerank_answer_is_valid_scores_or_remote_backend_error(answer: Any, count: int) -> None:
    try:
        scores = _scores(answer, count, "http://x/v1/rerank")
    except RemoteBackendError:
        return
    assert scores.shape == (count, 2) and np.isfinite(scores).all()
    assert ((scores[:, 0] >= 0) & (scores[:, 0] <= 1)).all()


_raw_answers = st.one_of(
    st.binary(max_size=64),  # random bytes: not HTTP at all
    st.builds(lambda b: http_response(b), st.binary(max_size=64)),  # HTTP, a random body
    st.builds(  # a body shorter than its Content-Length: the server closes mid-answer
        lambda b, extra: http_response(b, content_length=len(b) + extra),
        st.binary(max_size=32),
        st.integers(1, 100),
    ),
    st.builds(  # JSON of any shape
        lambda v: http_response(json.dumps(v).encode()), _json_values
    ),
    st.builds(  # a truncated status line or header block
        lambda n: http_response(b'{"data": []}')[:n], st.integers(0, 60)
    ),
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=_raw_answers, stall=st.sampled_from([0.0, 0.0, 0.0, 2.0]))
def test_any_raw_answer_ends_in_json_or_one_error_within_the_timeout(raw: bytes, stall: float) -> None:
    """Random bytes, random bodies, truncations and stalls (the server sends, then holds the
    connection 2 s before closing): the call gives decoded JSON or one ``RemoteBackendError``,
    by its 0.5 s deadline (plus scheduling slack on a shared machine)."""
    with scripted_server() as server:
        server.script = send_then(raw, stall_s=stall)
        client = _client(server.base_url, timeout=0.5, retries=1)
        started = time.monotonic()
        try:
            client.request("POST", "embeddings", {"input": [[1]]})
        except RemoteBackendError:
            pass
        finally:
            client.close()
        assert time.monotonic() - started < 2.0  # the 0.5 s deadline, plus slack on a shared machine


@pytest.mark.slow
async def test_concurrent_async_calls_each_keep_their_own_deadline() -> None:
    with scripted_server() as server:
        server.script = trickle(HEADERS_THEN_BIG, 0.3, stop_after_s=10)
        client = _client(server.base_url, timeout=1)
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(client.arequest("POST", "embeddings", {"input": [[i]]}) for i in range(8)),
            return_exceptions=True,
        )
        assert all(isinstance(o, RemoteBackendError) for o in outcomes)
        assert time.monotonic() - started < 3.0  # the 1 s deadline, plus slack on a shared machine
        client.close()
