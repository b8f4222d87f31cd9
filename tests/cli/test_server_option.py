"""``--server URL``: the CLI uses a running ``qwen3-rag serve`` for both models, loads none, and
takes the tokenizer from that server, so a client with Hub names works with no Hub access."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.common import run_module
from qwen3_rag._runtime.served_tokenizer import bundle_digest
from tests.support.server_helpers import (
    ROOT,
    Server,
    offline_env,
    serving,
)

pytestmark = pytest.mark.models  # every test here builds or loads a model

# Folders named as the Hub's checkpoints are: a client naming the Hub ids matches them by name.
HUB_EMBEDDING, HUB_RERANKER = "Qwen/Qwen3-Embedding-0.6B", "Qwen/Qwen3-Reranker-0.6B"


@pytest.fixture(scope="module")
def hub_named(
    tmp_path_factory: pytest.TempPathFactory, tiny_embedding_path: str, tiny_reranker_path: str
) -> Path:
    root = tmp_path_factory.mktemp("hub-named")
    shutil.copytree(tiny_embedding_path, root / "Qwen3-Embedding-0.6B")
    shutil.copytree(tiny_reranker_path, root / "Qwen3-Reranker-0.6B")
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hub_named: Path) -> Iterator[Server]:
    args = ["--embedding-model", str(hub_named / "Qwen3-Embedding-0.6B")]
    args += ["--reranker-model", str(hub_named / "Qwen3-Reranker-0.6B")]
    with serving("server-option", args, tmp_path_factory.mktemp("server-option"), offline_env()) as started:
        yield started


def no_hub_env(tmp: Path) -> dict[str, str]:
    """Offline with an empty Hub cache and an endpoint that refuses connections: any Hub access fails."""
    return offline_env(HF_HUB_CACHE=str(tmp / "empty-hub-cache"), HF_ENDPOINT="http://127.0.0.1:9")


def cli(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_module("qwen3_rag", argv, env=env, timeout=300, cwd=cwd)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    for i, text in enumerate(
        ["Paris is the capital of France.", "Bananas are yellow.", "Berlin is in Germany."]
    ):
        (tmp_path / "docs" / f"{i}.txt").write_text(text, encoding="utf-8")
    return tmp_path / "docs"


def test_hub_names_and_a_server_work_offline_and_equal_in_process(
    server: Server, docs: Path, tmp_path: Path, hub_named: Path
) -> None:
    env = no_hub_env(tmp_path)
    store = ["--qdrant-path", str(tmp_path / "remote"), "--no-progress", "--server", server.base_url]
    named = ["--embedding-model", HUB_EMBEDDING]
    done = cli(["ingest", str(docs), *store, *named], env, tmp_path)
    assert done.returncode == 0 and "3 embedded" in done.stdout, done.stderr
    question = ["query", "capital of France", "--json", "--top-n", "3"]
    remote = cli([*question, *store, "--reranker-model", HUB_RERANKER], env, tmp_path)
    assert remote.returncode == 0, remote.stderr

    local = [
        "--qdrant-path",
        str(tmp_path / "local"),
        "--no-progress",
        "--device",
        "cpu",
        "--dtype",
        "float32",
    ]
    folders = ["--embedding-model", str(hub_named / "Qwen3-Embedding-0.6B")]
    assert cli(["ingest", str(docs), *local, *folders], env, tmp_path).returncode == 0
    reranker = ["--reranker-model", str(hub_named / "Qwen3-Reranker-0.6B")]
    in_process = cli([*question, *local, *reranker], env, tmp_path)
    assert in_process.returncode == 0, in_process.stderr
    expected, actual = json.loads(in_process.stdout)["results"], json.loads(remote.stdout)["results"]
    assert [r["text"] for r in actual] == [r["text"] for r in expected]
    assert [r["rerank_score"] for r in actual] == pytest.approx(
        [r["rerank_score"] for r in expected], abs=1e-5
    )


def test_the_server_option_alone_uses_what_it_serves_and_loads_no_torch(
    server: Server, docs: Path, tmp_path: Path
) -> None:
    env = {**no_hub_env(tmp_path), "QWEN3_RAG_SERVER": server.base_url}  # the environment variable
    store = ["--qdrant-path", str(tmp_path / "q"), "--no-progress"]
    assert cli(["ingest", str(docs), *store], env, tmp_path).returncode == 0
    probe = (
        "import sys, runpy; sys.argv = ['qwen3-rag', 'query', 'capital', '--json', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('qwen3_rag', run_name='__main__')\n"
        "except SystemExit as exit:\n    print('torch' in sys.modules, file=sys.stderr); raise\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *store], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False"  # no model loaded here: no torch either
    assert json.loads(done.stdout)["results"][0]["text"] == "Paris is the capital of France."


def test_the_tokenizer_route_serves_the_checkpoint_files_with_their_digest(
    server: Server, hub_named: Path
) -> None:
    answer = httpx.get(
        f"{server.base_url}/tokenizer", params={"model": "Qwen3-Embedding-0.6B"}, trust_env=False
    ).json()
    folder = hub_named / "Qwen3-Embedding-0.6B"
    assert answer["files"]["tokenizer.json"] == (folder / "tokenizer.json").read_text(encoding="utf-8")
    assert answer["digest"] == bundle_digest(answer["files"])
    missing = httpx.get(f"{server.base_url}/tokenizer", params={"model": "other"}, trust_env=False)
    assert missing.status_code == 404 and "Qwen3-Embedding-0.6B" in missing.json()["error"]["message"]


def test_eval_with_the_server_option_equals_in_process(
    server: Server, tmp_path: Path, hub_named: Path
) -> None:
    from tests.support.eval_fixture import write_dataset

    data = write_dataset(tmp_path / "beir" / "small", documents=30, queries=6)
    env = no_hub_env(tmp_path)
    common = ["eval", str(data), "--json", "--no-progress", "--top-k", "10"]
    remote = cli([*common, "--server", server.base_url], env, tmp_path)  # the served models, by default
    assert remote.returncode == 0, remote.stderr
    local_models = ["--embedding-model", str(hub_named / "Qwen3-Embedding-0.6B")]
    local_models += [
        "--reranker-model",
        str(hub_named / "Qwen3-Reranker-0.6B"),
        "--device",
        "cpu",
        "--dtype",
        "float32",
    ]
    local = cli([*common, *local_models], env, tmp_path)
    assert local.returncode == 0, local.stderr
    served, in_process = json.loads(remote.stdout), json.loads(local.stdout)
    assert served["metrics"].keys() == in_process["metrics"].keys()
    for mode, metrics in in_process["metrics"].items():
        assert served["metrics"][mode] == pytest.approx(metrics, abs=1e-6), mode
