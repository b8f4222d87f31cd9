"""vLLM (CPU) serving Qwen3 checkpoints gives our runtime's vectors and scores (marker ``vllm``).

Opt-in, because it starts two vLLM servers (25-40 s each, ~3 GB RSS each). These tests run only
when both hold:

- the vLLM environment exists: ``bash .ci/setup-vllm`` builds ``.venv-vllm`` (or point
  ``$QWEN3_RAG_VLLM_VENV`` at one);
- they are asked for: ``-m vllm`` on the command line, or ``QWEN3_RAG_VLLM=1``.

``bash .ci/run-vllm`` does both (setup, then ``QWEN3_RAG_VLLM=1 python -m pytest -m vllm -q``).
A plain ``python -m pytest -q`` skips them without starting anything.

The checkpoints are the tiny random-weight ones with ``head_dim=32`` (vLLM's CPU attention has no
kernel for the default 16). One embedding server and one reranker server start in parallel once
for the module, on free 127.0.0.1 ports, in float32, with the flags of
``benchmarks/vllm_server.py`` (the command lines docs/deployment.md prints), and are always
stopped, their engine processes included.

What is checked, against ``Qwen3Embedder.load(path, device="cpu", dtype="float32")`` and
``Qwen3Reranker.load(...)`` in this process, within 1e-5:

- raw vLLM requests formatted by hand, exactly per docs/reference.md: token ids ending in one
  ``<|endoftext|>``, queries with the instruction, ``dimensions`` (MRL); reranker query as the
  fixed prefix + ``<Instruct>: ...\\n<Query>: ...\\n`` and each document as ``<Document>: ...``
  + the fixed suffix through ``/rerank``, ``/v1/rerank`` and ``/score``;
- the remote backend (``Qwen3Embedder.load(path, base_url=...)``, ``Qwen3Reranker.load(...)``)
  pointed at vLLM.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

from benchmarks.vllm_server import VllmServer, start_vllm, vllm_python, vllm_venv  # noqa: E402
from qwen3_rag._environment import QWEN3_RAG_VLLM  # noqa: E402

pytestmark = [pytest.mark.vllm, pytest.mark.models]

TOLERANCE = 1e-5
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n"
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
DOCUMENTS = [
    "Paris is the capital and largest city of France.",
    "Bananas are yellow.",
    "Qdrant is a vector database.",
    "",
    "The quick brown fox jumps over the lazy dog. " * 6,
    "Python is a programming language; numbers 0 1 2 3 4 5 6 7 8 9.",
]
QUERIES = ["what is the capital of France?", "vector search engine", "fox"]


def _opted_in(config: pytest.Config) -> bool:
    if QWEN3_RAG_VLLM.get():
        return True
    markexpr = str(config.getoption("markexpr", "") or "")
    return "vllm" in markexpr and "not vllm" not in markexpr


@pytest.fixture(scope="module", autouse=True)
def _vllm_wanted(request: pytest.FixtureRequest) -> None:
    """Skip the module unless asked for and the vLLM environment exists (nothing starts)."""
    if not _opted_in(request.config):
        pytest.skip("vLLM tests are opt-in: QWEN3_RAG_VLLM=1 or -m vllm (see bash .ci/run-vllm)")
    if vllm_python() is None:
        pytest.skip(f"no vLLM environment at {vllm_venv()}: run bash .ci/setup-vllm")


@pytest.fixture(scope="module")
def vllm_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from qwen3_rag.testing import write_tiny_checkpoints

    paths = write_tiny_checkpoints(tmp_path_factory.mktemp("vllm-qwen3"), head_dim=32)
    return {kind: str(path) for kind, path in paths.items()}


@pytest.fixture(scope="module")
def vllm_servers(
    vllm_checkpoints: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, VllmServer]]:
    logs = tmp_path_factory.mktemp("vllm-logs")
    servers: dict[str, VllmServer] = {}
    try:
        for kind in ("embedding", "reranker"):
            servers[kind] = start_vllm(
                kind,
                vllm_checkpoints[kind],
                log_dir=logs,
                served_name=f"tiny-{kind}",
            )
        with ThreadPoolExecutor(2) as pool:
            for startup in pool.map(lambda s: s.wait_healthy(timeout_s=300.0), servers.values()):
                print(f"vLLM healthy after {startup:.0f} s", file=sys.stderr)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[Any]:
    import httpx

    with httpx.Client(trust_env=False, timeout=60.0) as client:
        yield client


@pytest.fixture(scope="module")
def local_embedder(vllm_checkpoints: dict[str, str]) -> Any:
    from qwen3_rag import Qwen3Embedder

    return Qwen3Embedder.load(vllm_checkpoints["embedding"], device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def local_reranker(vllm_checkpoints: dict[str, str]) -> Any:
    from qwen3_rag import Qwen3Reranker

    return Qwen3Reranker.load(vllm_checkpoints["reranker"], device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def embedding_tokenizer(vllm_checkpoints: dict[str, str]) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(vllm_checkpoints["embedding"])


# --------------------------------------------------------------------------- raw vLLM requests
def _embedding_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """docs/reference.md ("Embedding", 3) by hand: content without special tokens, then one <|endoftext|>."""
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return [tokenizer(text, add_special_tokens=False)["input_ids"] + [end] for text in texts]


def _vllm_embed(http: Any, server: VllmServer, inputs: Any, dimensions: int | None = None) -> np.ndarray:
    body: dict[str, Any] = {"model": server.served_name, "input": inputs}
    if dimensions is not None:
        body["dimensions"] = dimensions
    response = http.post(f"{server.base_url}/embeddings", json=body)
    assert response.status_code == 200, response.text
    data = sorted(response.json()["data"], key=lambda item: item["index"])
    return np.asarray([item["embedding"] for item in data], dtype=np.float32)


def test_vllm_document_vectors_equal_runtime(
    vllm_servers: dict[str, VllmServer], http: Any, local_embedder: Any, embedding_tokenizer: Any
) -> None:
    ids = _embedding_ids(embedding_tokenizer, DOCUMENTS)
    assert all(seq[-1] != seq[-2] for seq in ids if len(seq) > 1)  # one end token, not two
    got = _vllm_embed(http, vllm_servers["embedding"], ids)
    want = local_embedder.embed_documents(DOCUMENTS)
    assert got.shape == want.shape == (len(DOCUMENTS), local_embedder.hidden_size)
    np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("instruction", [None, "Retrieve semantically similar text"])
def test_vllm_query_vectors_equal_runtime(
    vllm_servers: dict[str, VllmServer],
    http: Any,
    local_embedder: Any,
    embedding_tokenizer: Any,
    instruction: str | None,
) -> None:
    task = instruction or INSTRUCTION
    texts = [f"Instruct: {task}\nQuery:{query}" for query in QUERIES]
    got = _vllm_embed(http, vllm_servers["embedding"], _embedding_ids(embedding_tokenizer, texts))
    want = local_embedder.embed_queries(QUERIES, instruction=instruction)
    np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("dimensions", [32, 48])
def test_vllm_matryoshka_dimensions_equal_runtime(
    vllm_servers: dict[str, VllmServer],
    http: Any,
    local_embedder: Any,
    embedding_tokenizer: Any,
    dimensions: int,
) -> None:
    ids = _embedding_ids(embedding_tokenizer, DOCUMENTS)
    got = _vllm_embed(http, vllm_servers["embedding"], ids, dimensions=dimensions)
    want = local_embedder.with_options(dimensions=dimensions).embed_documents(DOCUMENTS)
    assert got.shape == (len(DOCUMENTS), dimensions)
    np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)


def test_vllm_end_token_comes_from_the_tokenizer_not_from_vllm(
    vllm_servers: dict[str, VllmServer], http: Any, local_embedder: Any, embedding_tokenizer: Any
) -> None:
    """Text input is right only because this tokenizer appends <|endoftext|>; ids without it are not."""
    server = vllm_servers["embedding"]
    want = local_embedder.embed_documents(DOCUMENTS[:3])
    np.testing.assert_allclose(_vllm_embed(http, server, DOCUMENTS[:3]), want, atol=TOLERANCE, rtol=0)
    bare = [ids[:-1] for ids in _embedding_ids(embedding_tokenizer, DOCUMENTS[:3])]
    assert np.abs(_vllm_embed(http, server, bare) - want).max() > 1e-3


def _rerank_pieces(query: str, documents: list[str], instruction: str) -> tuple[str, list[str]]:
    """docs/reference.md's reranker template split where vLLM joins query and document."""
    return (
        f"{PREFIX}<Instruct>: {instruction}\n<Query>: {query}\n",
        [f"<Document>: {document}{SUFFIX}" for document in documents],
    )


@pytest.mark.parametrize("endpoint", ["/rerank", "/v1/rerank", "/score"])
@pytest.mark.parametrize("instruction", [None, "Given a question, retrieve passages that answer it"])
def test_vllm_rerank_scores_equal_runtime(
    vllm_servers: dict[str, VllmServer],
    http: Any,
    local_reranker: Any,
    endpoint: str,
    instruction: str | None,
) -> None:
    server = vllm_servers["reranker"]
    for query in QUERIES[:2]:
        text_1, text_2 = _rerank_pieces(query, DOCUMENTS, instruction or INSTRUCTION)
        if endpoint == "/score":
            response = http.post(
                server.url + endpoint, json={"model": server.served_name, "text_1": text_1, "text_2": text_2}
            )
            assert response.status_code == 200, response.text
            pairs = [(item["index"], item["score"]) for item in response.json()["data"]]
        else:
            response = http.post(
                server.url + endpoint,
                json={"model": server.served_name, "query": text_1, "documents": text_2},
            )
            assert response.status_code == 200, response.text
            results = response.json()["results"]
            best_first = [item["relevance_score"] for item in results]
            assert best_first == sorted(best_first, reverse=True)
            pairs = [(item["index"], item["relevance_score"]) for item in results]
        got = np.asarray([score for _, score in sorted(pairs)])
        want = np.asarray(local_reranker.score(query, DOCUMENTS, instruction=instruction))
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=TOLERANCE, rtol=0)


# --------------------------------------------------------------------------- the remote backend
def _remote_backend_ready() -> bool:
    try:
        from qwen3_rag import Qwen3Embedder, Qwen3Reranker
    except ImportError:
        return False
    return all("base_url" in inspect.signature(cls.load).parameters for cls in (Qwen3Embedder, Qwen3Reranker))


needs_remote_backend = pytest.mark.skipif(
    not _remote_backend_ready(), reason="the remote backend (load(..., base_url=...)) is not there yet"
)
LONG = "The quick brown fox jumps over the lazy dog. " * 40


@pytest.fixture(scope="module")
def remote_embedder(vllm_servers: dict[str, VllmServer], vllm_checkpoints: dict[str, str]) -> Any:
    from qwen3_rag import Qwen3Embedder

    server = vllm_servers["embedding"]
    # vLLM serves the folder as --served-model-name tiny-embedding: name it, or the client cannot
    # tell which listed model is ours. api="auto" must find out that this is vLLM.
    return Qwen3Embedder.load(
        vllm_checkpoints["embedding"], base_url=server.base_url, served_model=server.served_name
    )


@pytest.fixture(scope="module")
def remote_reranker(vllm_servers: dict[str, VllmServer], vllm_checkpoints: dict[str, str]) -> Any:
    from qwen3_rag import Qwen3Reranker

    server = vllm_servers["reranker"]
    return Qwen3Reranker.load(
        vllm_checkpoints["reranker"], base_url=server.base_url, served_model=server.served_name
    )


@needs_remote_backend
def test_remote_embedder_on_vllm_equals_runtime(remote_embedder: Any, local_embedder: Any) -> None:
    assert remote_embedder.backend.api == "vllm"
    assert remote_embedder.dimensions == local_embedder.dimensions
    np.testing.assert_allclose(
        remote_embedder.embed_documents(DOCUMENTS),
        local_embedder.embed_documents(DOCUMENTS),
        atol=TOLERANCE,
        rtol=0,
    )
    for instruction in (None, "Retrieve semantically similar text"):
        np.testing.assert_allclose(
            remote_embedder.embed_queries(QUERIES, instruction=instruction),
            local_embedder.embed_queries(QUERIES, instruction=instruction),
            atol=TOLERANCE,
            rtol=0,
        )
    ids = [local_embedder.tokenizer(d)["input_ids"] for d in DOCUMENTS[:3]]  # post-processor: one end token
    np.testing.assert_allclose(
        remote_embedder.embed_token_ids(ids), local_embedder.embed_token_ids(ids), atol=TOLERANCE, rtol=0
    )


@needs_remote_backend
def test_remote_embedder_on_vllm_async_dimensions_truncation_and_splitting(
    remote_embedder: Any, local_embedder: Any
) -> None:
    small_remote = remote_embedder.with_options(dimensions=32)
    small_local = local_embedder.with_options(dimensions=32)
    got = asyncio.run(small_remote.aembed_documents(DOCUMENTS))
    assert got.shape == (len(DOCUMENTS), 32)
    np.testing.assert_allclose(got, small_local.embed_documents(DOCUMENTS), atol=TOLERANCE, rtol=0)
    got_q = asyncio.run(small_remote.aembed_queries(QUERIES))
    np.testing.assert_allclose(got_q, small_local.embed_queries(QUERIES), atol=TOLERANCE, rtol=0)
    # Cut to max_length on the client (vLLM itself would refuse or keep everything).
    short_remote = remote_embedder.with_options(max_length=16)
    short_local = local_embedder.with_options(max_length=16)
    np.testing.assert_allclose(
        short_remote.embed_documents([LONG, *DOCUMENTS[:2]]),
        short_local.embed_documents([LONG, *DOCUMENTS[:2]]),
        atol=TOLERANCE,
        rtol=0,
    )
    # More inputs than one request carries (256): split, in order.
    many = [f"{DOCUMENTS[i % len(DOCUMENTS)]} #{i}" for i in range(300)]
    np.testing.assert_allclose(
        remote_embedder.embed_documents(many), local_embedder.embed_documents(many), atol=TOLERANCE, rtol=0
    )


@needs_remote_backend
def test_remote_reranker_on_vllm_equals_runtime(remote_reranker: Any, local_reranker: Any) -> None:
    assert remote_reranker.backend.api == "vllm"
    for query in QUERIES:
        for instruction in (None, "Given a question, retrieve passages that answer it"):
            np.testing.assert_allclose(
                remote_reranker.score(query, DOCUMENTS, instruction=instruction),
                local_reranker.score(query, DOCUMENTS, instruction=instruction),
                atol=TOLERANCE,
                rtol=0,
            )
    got = asyncio.run(remote_reranker.ascore(QUERIES[0], [LONG, *DOCUMENTS]))
    np.testing.assert_allclose(
        got, local_reranker.score(QUERIES[0], [LONG, *DOCUMENTS]), atol=TOLERANCE, rtol=0
    )


@needs_remote_backend
def test_remote_reranker_on_vllm_cuts_long_documents_like_the_runtime(
    remote_reranker: Any, local_reranker: Any
) -> None:
    fixed = len(local_reranker.encode_ids([""])[0])  # prefix + suffix
    limit = fixed + 40
    np.testing.assert_allclose(
        remote_reranker.with_options(max_length=limit).score(QUERIES[0], [LONG, DOCUMENTS[0]]),
        local_reranker.with_options(max_length=limit).score(QUERIES[0], [LONG, DOCUMENTS[0]]),
        atol=TOLERANCE,
        rtol=0,
    )


@needs_remote_backend
def test_remote_backend_names_the_vllm_model_it_could_not_find(
    vllm_servers: dict[str, VllmServer], vllm_checkpoints: dict[str, str]
) -> None:
    from qwen3_rag import Qwen3Embedder, Qwen3RagError

    server = vllm_servers["embedding"]
    with pytest.raises(Qwen3RagError, match="tiny-embedding"):
        Qwen3Embedder.load(vllm_checkpoints["embedding"], base_url=server.base_url)
