"""The remote backend against `qwen3-rag serve` started as a real process with the tiny checkpoints.

``Qwen3Embedder.load(path, base_url=...)`` and ``Qwen3Reranker.load(path, base_url=...)`` give the
in-process runtime's vectors and scores (within 1e-5), sync and async; ``dimensions`` works;
collections made locally accept the remote embedder (same fingerprint) and the two-stage
retriever gives the same results; a call split into bounded requests gives the same vectors; a
killed server gives the clear error within the timeout and the same object works after a restart.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from qwen3_rag import Qwen3Embedder, Qwen3Reranker, RemoteBackendError
from qwen3_rag._runtime.remote import RemoteBackend
from qwen3_rag.pipeline import EmbeddingSpec, Ingestor, QdrantStore, TwoStageRetriever
from tests.support.server_helpers import (
    Server,
    free_port,
    offline_env,
    serving,
    start_server,
    stop_server,
    wait_healthy,
)
from tests.support.texts import RETRIEVAL_DOCS as DOCS

pytestmark = pytest.mark.models  # every test here builds or loads a model

KEY = "remote-test-key"
TOLERANCE = 1e-5
TEXTS = ["Paris is the capital of France.", "Bananas are yellow.", "", "Qdrant is a vector database. " * 9]


@pytest.fixture(scope="module")
def server(
    tiny_embedding_path: str, tiny_reranker_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with serving(
        "remote",
        ["--embedding-model", tiny_embedding_path, "--reranker-model", tiny_reranker_path],
        tmp_path_factory.mktemp("remote"),
        offline_env(QWEN3_RAG_API_KEY=KEY),
    ) as started:
        yield started


@pytest.fixture(scope="module")
def local(tiny_embedding_path: str, tiny_reranker_path: str) -> tuple[Qwen3Embedder, Qwen3Reranker]:
    return (
        Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32"),
        Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32"),
    )


@pytest.fixture(scope="module")
def remote(
    server: Server, tiny_embedding_path: str, tiny_reranker_path: str
) -> tuple[Qwen3Embedder, Qwen3Reranker]:
    return (
        Qwen3Embedder.load(tiny_embedding_path, base_url=server.base_url, api_key=KEY),
        Qwen3Reranker.load(tiny_reranker_path, base_url=server.base_url, api_key=KEY),
    )


def _close(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=0)


def test_remote_embeddings_equal_the_runtime(
    remote: tuple[Qwen3Embedder, Qwen3Reranker], local: tuple
) -> None:
    rem, loc = remote[0], local[0]
    assert (rem.hidden_size, rem.dimensions, rem.fingerprint) == (
        loc.hidden_size,
        loc.dimensions,
        loc.fingerprint,
    )
    assert rem.model_name == loc.model_name and rem.remote and not loc.remote
    _close(rem.embed_documents(TEXTS), loc.embed_documents(TEXTS))
    _close(rem.embed_queries(TEXTS), loc.embed_queries(TEXTS))
    _close(
        rem.embed_queries(TEXTS, instruction="Find a fruit"),
        loc.embed_queries(TEXTS, instruction="Find a fruit"),
    )
    ids = [[5, 6, 7], [8, 9]]
    _close(rem.embed_token_ids(ids), loc.embed_token_ids(ids))
    assert rem.embed_documents([]).shape == (0, rem.dimensions)
    for size in (32, 48):
        _close(
            rem.with_options(dimensions=size).embed_documents(TEXTS),
            loc.with_options(dimensions=size).embed_documents(TEXTS),
        )
    task = "Retrieve semantically similar text"
    _close(
        rem.with_options(max_length=6, instruction=task).embed_queries(TEXTS),
        loc.with_options(max_length=6, instruction=task).embed_queries(TEXTS),
    )

    async def both() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return await asyncio.gather(
            rem.aembed_documents(TEXTS), rem.aembed_queries(TEXTS), rem.aembed_token_ids(ids)
        )

    documents, queries, token_ids = asyncio.run(both())
    _close(documents, loc.embed_documents(TEXTS))
    _close(queries, loc.embed_queries(TEXTS))
    _close(token_ids, loc.embed_token_ids(ids))


def test_remote_rerank_scores_equal_the_runtime(
    remote: tuple[Qwen3Embedder, Qwen3Reranker], local: tuple
) -> None:
    rem, loc = remote[1], local[1]
    assert rem.fingerprint == loc.fingerprint
    query = "capital of France?"
    np.testing.assert_allclose(rem.score(query, TEXTS), loc.score(query, TEXTS), atol=TOLERANCE, rtol=0)
    task = "Given a question, retrieve Wikipedia passages that answer the question"
    np.testing.assert_allclose(
        asyncio.run(rem.ascore(query, TEXTS, instruction=task)), loc.score(query, TEXTS, task), atol=TOLERANCE
    )
    assert rem.score(query, []) == []
    # Documents too long for max_length are cut here, at the same token (ASCII text: exactly).
    cut_remote, cut_local = rem.with_options(max_length=160), loc.with_options(max_length=160)
    long_docs = [f"document {i} about vector search and reranking " * 12 for i in range(3)] + ["short"]
    np.testing.assert_allclose(
        cut_remote.score(query, long_docs), cut_local.score(query, long_docs), atol=TOLERANCE, rtol=0
    )


def test_remote_log_odds_and_rank_equal_the_runtime(
    remote: tuple[Qwen3Embedder, Qwen3Reranker], local: tuple
) -> None:
    """``qwen3-rag serve`` returns the log-odds (``relevance_logit``) from its own forward pass."""
    rem, loc = remote[1], local[1]
    query = "capital of France?"
    np.testing.assert_allclose(
        rem.score_logits(query, TEXTS), loc.score_logits(query, TEXTS), atol=1e-4, rtol=0
    )
    ours, theirs = rem.rank(query, TEXTS, top_n=3), loc.rank(query, TEXTS, top_n=3)
    assert [r.index for r in ours] == [r.index for r in theirs]
    threshold = theirs[1].score
    assert [r.index for r in rem.rank(query, TEXTS, min_score=threshold - 1e-6)] == [
        r.index for r in theirs[:2]
    ]


def test_remote_max_window_sends_each_window_and_keeps_the_best(
    remote: tuple[Qwen3Embedder, Qwen3Reranker], local: tuple
) -> None:
    """Over a text API the windows travel as decoded text: each document's score is its best
    window's as the server scores that text. (A window that starts inside a word re-tokenizes a
    little differently from the local window, so remote and local max_window scores are close,
    not equal: documented.)"""
    rem = remote[1].with_options(max_length=160, long_documents="max_window")
    loc = local[1].with_options(max_length=160, long_documents="max_window")
    query = "capital of France?"
    long_doc = " ".join(f"part{i} of a long text about search" for i in range(40)) + " Paris is in France."
    documents = ["short", long_doc]
    texts, owners = rem.procedure.window_documents(rem.procedure.prepare(query, documents))
    assert owners[0] == 0 and owners.count(1) >= 3 and texts[0] == "short"
    per_window = remote[1].with_options(max_length=160).score(query, texts)
    scores = rem.score(query, documents)
    assert scores[0] == per_window[0]
    assert scores[1] == max(s for s, o in zip(per_window, owners, strict=True) if o == 1)
    windows = [t for t, o in zip(texts, owners, strict=True) if o == 1]
    assert all(w in long_doc for w in windows) and windows[-1].endswith("Paris is in France.")
    assert long_doc.startswith(windows[0]) and loc.score(query, documents)[0] == pytest.approx(
        scores[0], abs=TOLERANCE
    )


def test_a_large_call_is_split_into_bounded_requests(
    server: Server, tiny_embedding_path: str, local: tuple
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, base_url=server.base_url, api_key=KEY, timeout=30.5)
    backend = embedder.backend
    assert isinstance(backend, RemoteBackend)
    backend.max_inputs = 16
    texts = [f"passage {i}: " + "words " * (i % 17) for i in range(100)]

    def requests_served() -> float:
        metrics = httpx.get(f"{server.url}/metrics", trust_env=False).text
        pattern = r'^qwen3_rag_http_requests_total\{endpoint="/v1/embeddings",status="200"\} (\S+)$'
        match = re.search(pattern, metrics, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    before = requests_served()
    _close(embedder.embed_documents(texts), local[0].embed_documents(texts))
    assert requests_served() - before == 7  # ceil(100 / 16)
    _close(asyncio.run(embedder.aembed_documents(texts)), local[0].embed_documents(texts))
    assert requests_served() - before == 14


def test_a_collection_made_locally_accepts_the_remote_model_and_retrieves_the_same(
    remote: tuple[Qwen3Embedder, Qwen3Reranker], local: tuple, tmp_path: Path
) -> None:
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    store = QdrantStore("remote", location=":memory:")
    Ingestor(store, local[0], progress=False).ingest([tmp_path])
    assert store.open(EmbeddingSpec.for_embedder(remote[0])).fingerprint == local[0].fingerprint
    here = TwoStageRetriever(store, local[0], local[1], top_k=4, top_n=3)
    there = TwoStageRetriever(store, remote[0], remote[1], top_k=4, top_n=3)
    for query in ("What is the capital of France?", "vector database"):
        for hybrid in (False, True):
            mine, theirs = here.retrieve(query, hybrid=hybrid), there.retrieve(query, hybrid=hybrid)
            assert [r.id for r in mine] == [r.id for r in theirs]
            np.testing.assert_allclose(
                [r.rerank_score for r in mine], [r.rerank_score for r in theirs], atol=1e-5
            )
    async_results = asyncio.run(there.aretrieve("What is the capital of France?"))
    assert [r.id for r in async_results] == [r.id for r in here.retrieve("What is the capital of France?")]


def test_wrong_key_is_a_clear_error(server: Server, tiny_embedding_path: str) -> None:
    with pytest.raises(RemoteBackendError, match=r"HTTP 401.*api_key=") as error:
        Qwen3Embedder.load(tiny_embedding_path, base_url=server.base_url, api_key="wrong")
    assert error.value.status == 401


def test_after_a_kill_calls_fail_within_the_timeout_and_work_after_a_restart(
    tiny_embedding_path: str, tmp_path: Path, local: tuple
) -> None:
    port = free_port()
    args = ["--embedding-model", tiny_embedding_path]
    first = start_server("restart-1", args, tmp_path, offline_env(), port=port)
    try:
        wait_healthy(first)
        embedder = Qwen3Embedder.load(tiny_embedding_path, base_url=first.base_url, timeout=5, max_retries=2)
        expected = local[0].embed_documents(TEXTS)
        _close(embedder.embed_documents(TEXTS), expected)
        _close(asyncio.run(embedder.aembed_documents(TEXTS)), expected)
    finally:
        stop_server(first)  # SIGKILL
    started = time.monotonic()
    with pytest.raises(RemoteBackendError, match="could not be reached") as error:
        embedder.embed_documents(TEXTS)
    assert error.value.status is None and time.monotonic() - started < 5.0
    with pytest.raises(RemoteBackendError):
        asyncio.run(embedder.aembed_queries(TEXTS))
    second = start_server("restart-2", args, tmp_path, offline_env(), port=port)
    try:
        wait_healthy(second)
        _close(embedder.embed_documents(TEXTS), expected)  # the same object, new connections
        _close(asyncio.run(embedder.aembed_documents(TEXTS)), expected)
    finally:
        stop_server(second)
