"""The CLI with the models on a ``qwen3-rag serve`` process: the same answers as in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.server_helpers import Server, offline_env, serving

pytestmark = pytest.mark.models  # every test here builds or loads a model


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, tiny_embedding_path: str, tiny_reranker_path: str
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("cli-remote")
    with serving(
        "cli",
        ["--embedding-model", tiny_embedding_path, "--reranker-model", tiny_reranker_path],
        tmp,
        offline_env(),
    ) as started:
        yield started


def test_ingest_and_query_through_the_server_equal_in_process(
    server: Server, tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(
        ["Paris is the capital of France.", "Bananas are yellow.", "Berlin is in Germany."]
    ):
        (docs / f"{i}.txt").write_text(text, encoding="utf-8")
    local = [
        "--qdrant-path",
        str(tmp_path / "local"),
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--no-progress",
    ]
    remote = ["--qdrant-path", str(tmp_path / "remote"), "--embedding-url", server.base_url, "--no-progress"]

    assert run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *local])[0] == 0
    code, out = run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *remote])
    assert code == 0 and "3 embedded" in out

    question = [
        "query",
        "capital of France",
        "--json",
        "--top-n",
        "3",
        "--reranker-model",
        tiny_reranker_path,
    ]
    code, local_out = run([*question, *local])
    assert code == 0, local_out
    code, remote_out = run([*question, *remote])
    assert code == 0, remote_out
    expected, actual = json.loads(local_out)["results"], json.loads(remote_out)["results"]
    assert [r["text"] for r in actual] == [r["text"] for r in expected]
    assert [r["rerank_score"] for r in actual] == pytest.approx(
        [r["rerank_score"] for r in expected], abs=1e-5
    )
    assert [r["retrieval_score"] for r in actual] == pytest.approx(
        [r["retrieval_score"] for r in expected], abs=1e-5
    )
    # A collection written through the server is the same vector space as one written in-process.
    code, out = run(
        [*question, "--qdrant-path", str(tmp_path / "remote"), "--device", "cpu", "--no-progress"]
    )
    assert code == 0, out
