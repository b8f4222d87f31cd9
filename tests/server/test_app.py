"""The HTTP server in-process (ASGI, no sockets): results equal the runtime, every bad request gets
its status and a message naming the field, and the server keeps serving."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import numpy as np
import pytest

from qwen3_rag._cli.serve import add_serve_parser, run_serve
from qwen3_rag._errors import MissingDependencyError, OverloadedError, RuntimeClosedError
from qwen3_rag._runtime import Qwen3Embedder, Qwen3Reranker
from qwen3_rag.server import ServerConfig, create_app
from tests.support.texts import SERVED_TEXTS as TEXTS

KEY = "test-key-1234"


@pytest.fixture(scope="module")
def app(embedder: Qwen3Embedder, reranker: Qwen3Reranker) -> Any:
    return create_app(embedder, reranker)


@asynccontextmanager
async def client_for(app: Any, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://server", headers=headers) as client:
        yield client


def vectors(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [d["index"] for d in data] == list(range(len(data)))
    rows = [
        np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4")
        if isinstance(d["embedding"], str)
        else np.asarray(d["embedding"], dtype=np.float32)
        for d in data
    ]
    return np.stack(rows)


# ----------------------------------------------------------------------------- results


async def test_embeddings_equal_runtime_float_and_exact_base64(app: Any, embedder: Qwen3Embedder) -> None:
    expected = embedder.embed_documents(TEXTS)
    async with client_for(app) as client:
        floats = await client.post("/v1/embeddings", json={"input": TEXTS, "model": embedder.model_name})
        packed = await client.post("/v1/embeddings", json={"input": TEXTS, "encoding_format": "base64"})
        single = await client.post("/v1/embeddings", json={"input": TEXTS[0]})
    # The same batch computed the same way: bit for bit (base64 carries the float32 bytes, and
    # JSON floats print float32 values exactly); another batch composition agrees within 1e-5.
    assert np.array_equal(vectors(packed), expected)
    assert np.array_equal(vectors(floats), expected)
    assert np.array_equal(vectors(single), embedder.embed_documents(TEXTS[:1]))
    np.testing.assert_allclose(vectors(single), expected[:1], atol=1e-5)
    body = floats.json()
    assert body["object"] == "list" and body["model"] == embedder.model_name
    tokens = sum(len(ids) for ids in embedder.encode_ids(TEXTS))
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


async def test_queries_get_the_instruction_documents_do_not(app: Any, embedder: Qwen3Embedder) -> None:
    task = "Retrieve semantically similar text"
    async with client_for(app) as client:
        query = await client.post("/v1/embeddings", json={"input": TEXTS, "input_type": "query"})
        custom = await client.post(
            "/v1/embeddings",
            json={"input": TEXTS, "input_type": "query", "instruction": task, "encoding_format": "base64"},
        )
        document = await client.post("/v1/embeddings", json={"input": TEXTS, "input_type": "document"})
    assert np.array_equal(vectors(query), embedder.embed_queries(TEXTS))
    assert np.array_equal(vectors(custom), embedder.embed_queries(TEXTS, instruction=task))
    np.testing.assert_allclose(vectors(document), embedder.embed_documents(TEXTS), atol=1e-5)
    assert not np.allclose(vectors(query), vectors(document), atol=1e-3)
    assert query.json()["usage"]["prompt_tokens"] > document.json()["usage"]["prompt_tokens"]


async def test_dimensions_equal_a_runtime_loaded_at_that_size(
    app: Any, embedder: Qwen3Embedder, tiny_embedding_path: str
) -> None:
    sized = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32", dimensions=32)
    async with client_for(app) as client:
        response = await client.post(
            "/v1/embeddings", json={"input": TEXTS, "dimensions": 32, "encoding_format": "base64"}
        )
    got = vectors(response)
    assert got.shape == (len(TEXTS), 32)
    assert np.array_equal(got, sized.embed_documents(TEXTS))
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


async def test_served_size_caps_dimensions(embedder: Qwen3Embedder) -> None:
    app = create_app(embedder.with_options(dimensions=48))
    async with client_for(app) as client:
        default = await client.post("/v1/embeddings", json={"input": ["a"]})
        smaller = await client.post("/v1/embeddings", json={"input": ["a"], "dimensions": 40})
        larger = await client.post("/v1/embeddings", json={"input": ["a"], "dimensions": 64})
        models = await client.get("/v1/models")
    assert vectors(default).shape == (1, 48)
    assert vectors(smaller).shape == (1, 40)
    assert larger.status_code == 400 and "32 to 48" in larger.json()["error"]["message"]
    (card,) = models.json()["data"]
    assert isinstance(card.pop("created"), int)
    assert card == {
        "id": embedder.model_name,
        "object": "model",
        "owned_by": "qwen3-rag",
        "kind": "embedding",
        "dimensions": 48,
        "fingerprint": embedder.fingerprint,
    }


async def test_token_ids_follow_the_end_token_rule(app: Any, embedder: Qwen3Embedder) -> None:
    end = embedder.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    content = [embedder.tokenizer.encode(t, add_special_tokens=False) for t in TEXTS]
    expected = embedder.embed_documents(TEXTS)
    async with client_for(app) as client:
        without_end = await client.post(
            "/v1/embeddings", json={"input": content, "encoding_format": "base64"}
        )
        with_end = await client.post(
            "/v1/embeddings", json={"input": [ids + [end] for ids in content], "encoding_format": "base64"}
        )
        one_list = await client.post(
            "/v1/embeddings", json={"input": content[0], "encoding_format": "base64"}
        )
    assert np.array_equal(vectors(without_end), expected)
    assert np.array_equal(vectors(with_end), expected)
    assert np.array_equal(vectors(one_list), embedder.embed_documents(TEXTS[:1]))
    assert with_end.json()["usage"]["prompt_tokens"] == sum(len(ids) + 1 for ids in content)
    assert embedder.encode_token_ids([[5, end], [5], [5, end, end]]) == [[5, end], [5, end], [5, end, end]]


async def test_rerank_order_top_n_documents_and_instruction(app: Any, reranker: Qwen3Reranker) -> None:
    query = "What is the capital of France?"
    task = "Given a question, retrieve Wikipedia passages that answer the question"
    expected = reranker.score(query, TEXTS)
    expected_task = reranker.score(query, TEXTS, instruction=task)
    async with client_for(app) as client:
        everything = await client.post("/v1/rerank", json={"query": query, "documents": TEXTS})
        top = await client.post(
            "/v1/rerank",
            json={
                "query": query,
                "documents": [{"text": t} for t in TEXTS],
                "top_n": 2,
                "return_documents": True,
            },
        )
        huge = await client.post("/v1/rerank", json={"query": query, "documents": TEXTS, "top_n": 10**9})
        instructed = await client.post(
            "/v1/rerank", json={"query": query, "documents": TEXTS, "instruction": task, "model": "reranker"}
        )
        empty = await client.post("/v1/rerank", json={"query": query, "documents": []})
    results = everything.json()["results"]
    assert [r["index"] for r in results] == sorted(range(len(TEXTS)), key=lambda i: -expected[i])
    for r in results:
        assert abs(r["relevance_score"] - expected[r["index"]]) <= 1e-5
        # Extension: the log-odds behind the score, from the same forward pass.
        assert abs(1 / (1 + math.exp(-r["relevance_logit"])) - r["relevance_score"]) <= 1e-6
        assert "document" not in r
    assert everything.json()["usage"]["total_tokens"] > 0
    assert top.json()["results"] == [
        {
            "index": r["index"],
            "relevance_score": r["relevance_score"],
            "relevance_logit": r["relevance_logit"],
            "document": {"text": TEXTS[r["index"]]},
        }
        for r in results[:2]
    ]
    assert huge.status_code == 200 and huge.json()["results"] == results
    got = {r["index"]: r["relevance_score"] for r in instructed.json()["results"]}
    assert all(abs(got[i] - expected_task[i]) <= 1e-5 for i in range(len(TEXTS)))
    assert empty.status_code == 200 and empty.json()["results"] == []


async def test_concurrent_requests_share_forward_passes(app: Any, embedder: Qwen3Embedder) -> None:
    stats = embedder.runtime.batcher.stats
    shared_before = sum(n for size, n in stats.requests_per_pass.items() if size > 1)
    texts = [f"document number {i} about search" for i in range(40)]
    expected = embedder.embed_documents(texts)
    async with client_for(app) as client:
        responses = await asyncio.gather(
            *(client.post("/v1/embeddings", json={"input": [t], "encoding_format": "base64"}) for t in texts)
        )
        metrics = (await client.get("/metrics")).text
    for response, row in zip(responses, expected, strict=True):
        np.testing.assert_allclose(vectors(response)[0], row, atol=1e-5)
    assert sum(n for size, n in stats.requests_per_pass.items() if size > 1) > shared_before
    assert 'qwen3_rag_http_requests_total{endpoint="/v1/embeddings",status="200"}' in metrics
    assert 'qwen3_rag_batcher_requests_per_forward_pass_bucket{kind="embedding",le="1.0"}' in metrics
    assert 'qwen3_rag_batcher_queue_items{kind="embedding"}' in metrics
    assert "qwen3_rag_http_request_duration_seconds_bucket" in metrics


# ----------------------------------------------------------------------------- bad input

BIG = "x" * (10 * 1024 * 1024)
E = "/v1/embeddings"
R = "/v1/rerank"

# (name, path, JSON body or raw bytes, status, words the message must contain, param)
Q = {"query": "q", "documents": ["a"]}
QT = {"input": "a", "input_type": "query"}
BAD: list[tuple[str, str, Any, int, str, str | None]] = [
    ("empty input", E, {"input": []}, 400, "input: must not be empty", "input"),
    ("missing input", E, {"model": "embedding"}, 400, "input: this field is required", "input"),
    ("input a number", E, {"input": 3.5}, 400, "input: must be", "input"),
    ("input null", E, {"input": None}, 400, "input", "input"),
    ("mixed list", E, {"input": ["a", 3]}, 400, "input: item 1 is int", "input"),
    ("nested strings", E, {"input": [["a"]]}, 400, "input: item 0[0]", "input"),
    ("negative token", E, {"input": [[1, -2]]}, 400, "input: item 0[1] is -2", "input"),
    ("bool token", E, {"input": [[1, True]]}, 400, "input: item 0[1] is True", "input"),
    ("token past vocab", E, {"input": [[1, 10**9]]}, 400, "input: item 0 holds a token id above", "input"),
    ("10,000 inputs", E, {"input": ["a"] * 10_000}, 413, "input: 10000 items", "input"),
    ("10 MB body", E, {"input": [BIG]}, 413, "over this server's limit", None),
    ("malformed JSON", E, b'{"input": ["a"', 400, "not valid JSON", None),
    ("not an object", E, b'["a"]', 400, "must be a JSON object", None),
    (
        "unknown model",
        E,
        {"input": "a", "model": "text-embedding-3"},
        404,
        "model: 'text-embedding-3'",
        "model",
    ),
    ("dimensions small", E, {"input": "a", "dimensions": 16}, 400, "dimensions: 16 is out of", "dimensions"),
    ("dimensions large", E, {"input": "a", "dimensions": 10_000}, 400, "dimensions: 10000", "dimensions"),
    ("dimensions text", E, {"input": "a", "dimensions": "64"}, 400, "dimensions: Input should", "dimensions"),
    ("encoding", E, {"input": "a", "encoding_format": "int8"}, 400, "encoding_format", "encoding_format"),
    ("input_type", E, {"input": "a", "input_type": "passage"}, 400, "input_type", "input_type"),
    (
        "doc instruction",
        E,
        {"input": "a", "instruction": "Find"},
        400,
        "instruction: applies to",
        "instruction",
    ),
    ("blank instruction", E, {**QT, "instruction": " "}, 400, "instruction: it must be", "instruction"),
    ("query token ids", E, {**QT, "input": [[1, 2]]}, 400, "input_type: 'query' needs text", "input_type"),
    ("missing query", R, {"documents": ["a"]}, 400, "query: this field is required", "query"),
    ("query a number", R, {**Q, "query": 1}, 400, "query: Input should be a valid string", "query"),
    (
        "documents a string",
        R,
        {**Q, "documents": "a"},
        400,
        "documents: Input should be a valid list",
        "documents",
    ),
    ("document a number", R, {**Q, "documents": ["a", 2]}, 400, "documents: item 1 is int", "documents"),
    ("top_n zero", R, {**Q, "top_n": 0}, 400, "top_n: Input should be greater than or equal to 1", "top_n"),
    ("top_n text", R, {**Q, "top_n": "2"}, 400, "top_n: Input should be a valid integer", "top_n"),
    ("return_documents", R, {**Q, "return_documents": "yes"}, 400, "return_documents:", "return_documents"),
    ("10,000 documents", R, {**Q, "documents": ["a"] * 10_000}, 413, "documents: 10000 items", "documents"),
    ("unknown rerank model", R, {**Q, "model": "rerank-v3.5"}, 404, "model: 'rerank-v3.5'", "model"),
    ("unknown path", "/v1/chat", {"messages": []}, 404, "There is no POST /v1/chat", None),
]


@pytest.mark.parametrize(("name", "path", "body", "status", "words", "param"), BAD, ids=[b[0] for b in BAD])
async def test_bad_request_is_refused_and_the_server_keeps_serving(
    app: Any,
    embedder: Qwen3Embedder,
    name: str,
    path: str,
    body: Any,
    status: int,
    words: str,
    param: str | None,
) -> None:
    async with client_for(app) as client:
        if isinstance(body, bytes):
            response = await client.post(path, content=body, headers={"content-type": "application/json"})
        else:
            response = await client.post(path, json=body)
        good = await client.post(E, json={"input": ["still serving"], "encoding_format": "base64"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert words in error["message"]
    assert error["param"] == param
    assert set(error) == {"message", "type", "param", "code"} and error["type"] and error["code"]
    assert np.array_equal(vectors(good), embedder.embed_documents(["still serving"]))


async def test_streamed_body_over_the_limit_is_refused(embedder: Qwen3Embedder) -> None:
    app = create_app(embedder, config=ServerConfig(max_request_bytes=1000))

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"input": ["'
        for _ in range(20):
            yield b"y" * 100
        yield b'"]}'

    async with client_for(app) as client:
        response = await client.post(E, content=chunks(), headers={"content-type": "application/json"})
        small = await client.post(E, json={"input": ["fits"]})
    assert response.status_code == 413 and "limit of 1000 bytes" in response.json()["error"]["message"]
    assert small.status_code == 200


async def test_api_key_is_required_on_v1_only(embedder: Qwen3Embedder, reranker: Qwen3Reranker) -> None:
    app = create_app(embedder, reranker, config=ServerConfig(api_key=KEY))
    body = {"input": ["a"]}
    async with client_for(app) as client:
        missing = await client.post(E, json=body)
        wrong = await client.post(E, json=body, headers={"Authorization": "Bearer not-the-key"})
        scheme = await client.post(E, json=body, headers={"Authorization": f"Basic {KEY}"})
        rerank = await client.post(R, json={"query": "q", "documents": ["a"]})
        models = await client.get("/v1/models")
        right = await client.post(E, json=body, headers={"Authorization": f"Bearer {KEY}"})
        health = await client.get("/health")
        metrics = await client.get("/metrics")
    for response in (missing, wrong, scheme, rerank, models):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key" in response.json()["error"]["message"]
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert right.status_code == 200
    assert health.status_code == 200 and metrics.status_code == 200
    assert 'qwen3_rag_http_errors_total{endpoint="/v1/embeddings",status="401"} 3.0' in metrics.text


class _Refusing:
    """A stand-in model whose runtime refuses work, as a full queue or a closed runtime does."""

    model_name = "stub"
    dimensions = 64
    instruction = "Find it"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        return [[1] for _ in texts]

    async def aembed_documents(self, texts: list[str]) -> np.ndarray:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [(OverloadedError("queue full"), 429, "overloaded"), (RuntimeClosedError("closed"), 503, "closing")],
)
async def test_runtime_refusals_map_to_429_and_503(error: Exception, status: int, code: str) -> None:
    app = create_app(_Refusing(error), config=ServerConfig(retry_after_s=3))
    async with client_for(app) as client:
        response = await client.post(E, json={"input": ["a"]})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status == 429:
        assert response.headers["retry-after"] == "3"


async def test_one_kind_served_the_other_is_404(embedder: Qwen3Embedder) -> None:
    async with client_for(create_app(embedder)) as client:
        response = await client.post(R, json={"query": "q", "documents": ["a"]})
    assert response.status_code == 404
    assert "serves no reranker model" in response.json()["error"]["message"]


async def test_health_follows_loading_and_closing(tiny_embedding_path: str) -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    loaded: list[Qwen3Embedder] = []

    def loader() -> tuple[Any, Any]:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(timeout=10)
        # A runtime of its own (another attention implementation): the app closes what it loads.
        loaded.append(Qwen3Embedder.load(tiny_embedding_path, dtype="float32", attn_implementation="eager"))
        return loaded[0], None

    app = create_app(loader=loader)
    async with app.router.lifespan_context(app), client_for(app) as client:
        loading = await client.get("/health")
        refused = await client.post(E, json={"input": ["a"]})
        release.set()
        for _ in range(200):
            if (await client.get("/health")).status_code == 200:
                break
            await asyncio.sleep(0.01)
        ready = await client.post(E, json={"input": ["a"]})
        app.state.server.begin_closing()
        closing = await client.get("/health")
        refused_closing = await client.post(E, json={"input": ["a"]})
    assert loading.status_code == 503 and loading.json() == {"status": "loading"}
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "loading"
    assert ready.status_code == 200
    assert closing.status_code == 503 and closing.json() == {"status": "closing"}
    assert refused_closing.status_code == 503 and refused_closing.json()["error"]["code"] == "closing"
    assert loaded[0].runtime.batcher.closed


async def test_failed_load_is_reported(tmp_path: Any) -> None:
    failures: list[BaseException] = []

    def loader() -> tuple[Any, Any]:
        raise OSError("no such model")

    app = create_app(loader=loader, on_load_failed=failures.append)
    async with app.router.lifespan_context(app), client_for(app) as client:
        for _ in range(200):
            if failures:
                break
            await asyncio.sleep(0.01)
        health = await client.get("/health")
    assert health.status_code == 503 and health.json() == {"status": "failed"}
    assert isinstance(failures[0], OSError)


# ----------------------------------------------------------------------------- command


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


def test_serve_arguments_and_defaults() -> None:
    args = _parse("--embedding-model", "E")
    assert (args.host, args.port, args.api_key, args.reranker_model) == ("127.0.0.1", 8000, None, None)
    assert (args.max_request_bytes, args.max_inputs) == (4 * 1024 * 1024, 2048)


def test_serve_needs_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_serve(_parse()) == 2
    assert "--embedding-model, --reranker-model, or both" in capsys.readouterr().err


def test_missing_fastapi_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from qwen3_rag.server import _dependencies as dependencies

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a)
    )
    with pytest.raises(MissingDependencyError, match=r"pip install 'qwen3-rag\[serve\]'"):
        dependencies.require_serve_dependencies()


@pytest.fixture
def no_uvicorn_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from qwen3_rag._cli import serve_uvicorn as runner

    def run(self: Any, sockets: Any = None) -> None:  # as if it served and was stopped at once
        self.started = True

    monkeypatch.setattr(runner.DrainingServer, "run", run)
    yield


def test_public_bind_without_key_warns(
    no_uvicorn_run: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwen3_rag._cli import serve_uvicorn as runner

    monkeypatch.delenv("QWEN3_RAG_API_KEY", raising=False)
    args = _parse("--embedding-model", "E", "--host", "0.0.0.0")
    assert runner.serve(args, lambda: (None, None), None) == 0
    assert "warning: binding 0.0.0.0 without an API key" in capsys.readouterr().err
    assert runner.serve(_parse("--embedding-model", "E"), lambda: (None, None), None) == 0
    assert runner.serve(args, lambda: (None, None), "key") == 0
    assert "warning" not in capsys.readouterr().err
    assert (
        runner.is_loopback("::1") and runner.is_loopback("localhost") and not runner.is_loopback("10.0.0.1")
    )


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwen3_rag._cli.serve import _api_key

    monkeypatch.setenv("QWEN3_RAG_API_KEY", "from-env")
    assert _api_key(_parse("--embedding-model", "E")) == "from-env"
    assert _api_key(_parse("--embedding-model", "E", "--api-key", "flag")) == "flag"
    monkeypatch.setenv("QWEN3_RAG_API_KEY", "")
    assert _api_key(_parse("--embedding-model", "E")) is None


def test_error_bodies_are_json_everywhere(app: Any) -> None:
    # The OpenAPI schema documents the error shape for clients that generate code from it.
    schema = app.openapi()
    responses = schema["paths"]["/v1/embeddings"]["post"]["responses"]
    assert {"400", "401", "404", "413", "429", "503"} <= set(responses)
    assert json.dumps(schema)
