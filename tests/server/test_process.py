"""`qwen3-rag serve` as a real process on 127.0.0.1: the official openai client, load from 100
concurrent clients, overload, SIGTERM drain and SIGKILL, with the tiny checkpoints.

Two servers start in parallel once for the module: ``main`` (embedding + reranker, API key) and
``small`` (embedding only, a tiny queue for the overload test, later drained by SIGTERM). ``main``
is killed by the last test. Everything is bounded: request counts, timeouts, only loopback.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from qwen3_rag._runtime import Qwen3Embedder, Qwen3Reranker
from tests.support.server_helpers import START_TIMEOUT_S, Server, start_server, stop_server, wait_healthy
from tests.support.texts import SERVED_TEXTS as TEXTS

pytestmark = pytest.mark.models  # every test here builds or loads a model

KEY = "process-test-key"
_start, _wait_healthy, _stop = start_server, wait_healthy, stop_server


@pytest.fixture(scope="module")
def servers(
    tiny_embedding_path: str, tiny_reranker_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    tmp = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = {
        "main": _start(
            "main",
            ["--embedding-model", tiny_embedding_path, "--reranker-model", tiny_reranker_path],
            tmp,
            {**env, "QWEN3_RAG_API_KEY": KEY},
        ),
        "small": _start(
            "small",
            ["--embedding-model", tiny_embedding_path, "--max-queue-items", "8", "--max-wait-ms", "30"],
            tmp,
            {k: v for k, v in env.items() if k != "QWEN3_RAG_API_KEY"},
        ),
    }
    try:
        for server in started.values():
            _wait_healthy(server)
        yield started
    finally:
        for server in started.values():
            _stop(server)


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _decode(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    rows = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in response.json()["data"]]
    return np.stack(rows)


# ----------------------------------------------------------------------------- clients


def test_openai_client_equals_the_runtime(
    servers: dict[str, Server], embedder: Qwen3Embedder, reranker: Qwen3Reranker
) -> None:
    import openai

    url = servers["main"].url
    # The openai client's own HTTP client, told to ignore proxy settings: loopback only.
    with (
        openai.DefaultHttpxClient(trust_env=False) as oai,
        httpx.Client(trust_env=False, timeout=30.0) as http,
    ):
        client = openai.OpenAI(
            base_url=f"{url}/v1", api_key=KEY, http_client=oai, max_retries=0, timeout=30.0
        )
        model = os.path.basename(embedder.model_name)
        packed = client.embeddings.create(model=model, input=TEXTS)  # the client asks for base64
        floats = client.embeddings.create(model=embedder.model_name, input=TEXTS, encoding_format="float")
        sized = client.embeddings.create(model=model, input=TEXTS, dimensions=32)
        queries = client.embeddings.create(model=model, input=TEXTS, extra_body={"input_type": "query"})
        served = [m.id for m in client.models.list()]
        with pytest.raises(openai.NotFoundError, match="not served here"):
            client.embeddings.create(model="text-embedding-3-small", input=TEXTS)
        wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", http_client=oai, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.embeddings.create(model=model, input=TEXTS)
        scores = http.post(
            f"{url}/v1/rerank",
            json={"query": "capital of France?", "documents": TEXTS},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    assert served == [embedder.model_name, reranker.model_name]
    expected = embedder.embed_documents(TEXTS)
    assert np.array_equal(np.array([d.embedding for d in packed.data], dtype=np.float32), expected)
    np.testing.assert_allclose(np.array([d.embedding for d in floats.data]), expected, atol=1e-5)
    assert packed.usage.prompt_tokens == sum(len(ids) for ids in embedder.encode_ids(TEXTS))
    sized_expected = embedder.with_options(dimensions=32).embed_documents(TEXTS)
    np.testing.assert_allclose(np.array([d.embedding for d in sized.data]), sized_expected, atol=1e-6)
    np.testing.assert_allclose(
        np.array([d.embedding for d in queries.data]), embedder.embed_queries(TEXTS), atol=1e-6
    )
    assert scores.status_code == 200, scores.text
    expected_scores = reranker.score("capital of France?", TEXTS)
    for result in scores.json()["results"]:
        assert abs(result["relevance_score"] - expected_scores[result["index"]]) <= 1e-5


def test_langchain_openai_embeddings_equal_the_runtime(
    servers: dict[str, Server], embedder: Qwen3Embedder
) -> None:
    """LangChain's own ``OpenAIEmbeddings`` against the server, unchanged; queries get the Qwen3
    instruction through the ``input_type`` extension (plain OpenAI has no query side)."""
    import openai
    from langchain_openai import OpenAIEmbeddings

    url = servers["main"].url
    model = os.path.basename(embedder.model_name)
    common: dict[str, Any] = {
        "model": model,
        "base_url": f"{url}/v1",
        "api_key": KEY,
        "check_embedding_ctx_length": False,  # no tiktoken: the server tokenizes with Qwen3's own
        "max_retries": 0,
    }
    with openai.DefaultHttpxClient(trust_env=False) as oai:
        documents = OpenAIEmbeddings(**common, http_client=oai).embed_documents(TEXTS)
        queries = OpenAIEmbeddings(
            **common, http_client=oai, model_kwargs={"extra_body": {"input_type": "query"}}
        ).embed_documents(TEXTS)
    np.testing.assert_allclose(np.array(documents), embedder.embed_documents(TEXTS), atol=1e-5)
    np.testing.assert_allclose(np.array(queries), embedder.embed_queries(TEXTS), atol=1e-5)


def test_a_client_of_the_server_imports_no_torch(
    servers: dict[str, Server], tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    """Remote models tokenize here but run there: the client process never imports torch, nor do
    the framework adapters over it (a worker process stays small)."""
    script = f"""
import sys
from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import TwoStageRetriever
import langchain_qwen3_rag, llama_index.embeddings.qwen3_rag, llama_index.postprocessor.qwen3_rag_rerank
url, key = {servers["main"].base_url!r}, {KEY!r}
emb = Qwen3Embedder.load({tiny_embedding_path!r}, base_url=url, api_key=key)
rr = Qwen3Reranker.load({tiny_reranker_path!r}, base_url=url, api_key=key)
vectors = emb.embed_queries(["What is the capital of France?"])
scores = rr.score("capital of France", ["Paris is the capital of France.", "Bananas are yellow."])
lc = langchain_qwen3_rag.Qwen3Embeddings(model={tiny_embedding_path!r}, base_url=url, api_key=key)
lc.embed_query("hello")
assert vectors.shape[0] == 1 and len(scores) == 2
print("torch" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=START_TIMEOUT_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "False"


def test_1000_requests_from_100_clients_share_forward_passes(
    servers: dict[str, Server], embedder: Qwen3Embedder
) -> None:
    url = servers["main"].url
    pool = [f"document {i}: notes on search, vectors and rerankers" for i in range(30)]
    expected = embedder.embed_documents(pool)
    headers = {"Authorization": f"Bearer {KEY}"}

    async def client_loop(client_id: int) -> list[tuple[list[int], np.ndarray]]:
        got = []
        async with httpx.AsyncClient(base_url=url, headers=headers, trust_env=False, timeout=60.0) as client:
            for step in range(10):
                picks = [
                    (client_id * 7 + step * 3 + k) % len(pool) for k in range(1 + (client_id + step) % 3)
                ]
                body = {"input": [pool[p] for p in picks], "encoding_format": "base64"}
                got.append((picks, _decode(await client.post("/v1/embeddings", json=body))))
        return got

    async def run() -> list[list[tuple[list[int], np.ndarray]]]:
        return await asyncio.gather(*(client_loop(c) for c in range(100)))

    results = asyncio.run(run())
    assert sum(len(r) for r in results) == 1000
    for per_client in results:
        for picks, rows in per_client:
            np.testing.assert_allclose(rows, expected[picks], atol=1e-5)
    metrics = httpx.get(f"{url}/metrics", trust_env=False).text
    name = "qwen3_rag_batcher_requests_per_forward_pass"
    alone = _metric(metrics, f"{name}_bucket", kind="embedding", le="1.0")
    passes = _metric(metrics, f"{name}_count", kind="embedding")
    assert passes > alone, f"no forward pass served more than one request:\n{metrics}"
    assert _metric(metrics, "qwen3_rag_http_requests_total", endpoint="/v1/embeddings", status="200") >= 1000


def test_overload_gives_429_with_retry_after_not_a_hang(servers: dict[str, Server]) -> None:
    url = servers["small"].url
    texts = [" ".join(["retrieval augmented generation with rerankers"] * 12)] * 8

    async def one(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/embeddings", json={"input": texts})

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30.0, limits=limits) as client:
            return await asyncio.gather(*(one(client) for _ in range(60)))

    start = time.monotonic()
    responses = asyncio.run(run())
    assert time.monotonic() - start < 30.0
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429}, statuses
    assert 429 in statuses and 200 in statuses, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "overloaded"
    assert httpx.post(f"{url}/v1/embeddings", json={"input": ["after"]}, trust_env=False).status_code == 200


def test_a_model_that_fails_to_load_exits_1_with_the_reason(tiny_embedding_path: str, tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    server = _start("bad", ["--reranker-model", tiny_embedding_path], tmp_path, env)
    assert server.process.wait(timeout=START_TIMEOUT_S) == 1
    assert "could not be loaded" in server.output() and "not a reranker" in server.output()


def test_oversized_body_gets_413_over_a_real_socket(servers: dict[str, Server]) -> None:
    url = servers["main"].url
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=30.0) as client:
        big = client.post("/v1/embeddings", json={"input": ["x" * (10 * 1024 * 1024)]})
        after = client.post("/v1/embeddings", json={"input": ["still serving"]})
    assert big.status_code == 413, big.text
    assert "--max-request-bytes" in big.json()["error"]["message"]
    assert after.status_code == 200


def test_sigterm_drains_in_flight_requests_then_exits_0(servers: dict[str, Server]) -> None:
    server = servers["small"]
    texts = [f"{i} " + "long passage about vector search and reranking " * 14 for i in range(40)]

    async def run() -> tuple[httpx.Response, Any]:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=60.0) as client:
            slow = asyncio.create_task(client.post("/v1/embeddings", json={"input": texts}))
            async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=5.0) as probe:
                for _ in range(500):  # until the slow request is being served
                    metrics = (await probe.get("/metrics")).text
                    in_flight = "qwen3_rag_http_requests_in_flight"
                    if _metric(metrics, in_flight, endpoint="/v1/embeddings") >= 1:
                        break
                    await asyncio.sleep(0.01)
                server.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.05)
                try:
                    late: Any = await probe.post("/v1/embeddings", json={"input": ["late"]})
                except httpx.TransportError as exc:
                    late = exc
            return await slow, late

    response, late = asyncio.run(run())
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == len(texts)
    if isinstance(late, httpx.Response):  # still reachable: refused as closing
        assert late.status_code == 503 and late.json()["error"]["code"] == "closing"
    assert server.process.wait(timeout=30) == 0, server.output()
    assert "Shutting down" in server.output()


def test_sigkill_mid_load_ends_every_client_call_within_its_timeout(servers: dict[str, Server]) -> None:
    server = servers["main"]
    timeout_s = 5.0
    headers = {"Authorization": f"Bearer {KEY}"}
    done = 0

    async def client_loop() -> tuple[int, BaseException | None, float]:
        nonlocal done
        ok = 0
        async with httpx.AsyncClient(
            base_url=server.url, headers=headers, trust_env=False, timeout=timeout_s
        ) as client:
            for _ in range(200):
                started = time.monotonic()
                try:
                    response = await client.post("/v1/embeddings", json={"input": ["kill me", "softly"]})
                except httpx.TransportError as exc:
                    return ok, exc, time.monotonic() - started
                assert response.status_code == 200, response.text
                ok += 1
                done += 1
        return ok, None, 0.0

    async def run() -> tuple[list[tuple[int, BaseException | None, float]], float]:
        tasks = [asyncio.create_task(client_loop()) for _ in range(30)]
        while done < 60:
            await asyncio.sleep(0.01)
        server.process.kill()
        killed = time.monotonic()
        outcomes = await asyncio.gather(*tasks)
        return outcomes, time.monotonic() - killed

    outcomes, after_kill = asyncio.run(run())
    assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert after_kill < timeout_s + 2.0
    for ok, error, took in outcomes:
        assert isinstance(error, httpx.TransportError), (ok, error)
        assert took < timeout_s + 1.0
