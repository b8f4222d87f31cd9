"""The runtime's batcher under load, cancellation, overload and shutdown: nothing lost, nothing hung."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import OverloadedError, Qwen3Embedder, Qwen3Reranker, RuntimeClosedError
from qwen3_rag.testing import write_tiny_checkpoints

pytestmark = pytest.mark.models  # every test here builds or loads a model

ROOT = Path(__file__).resolve().parents[2]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def test_cancelling_half_of_500_in_flight_requests(tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    texts = [f"request {i} " + "x " * (i % 23) for i in range(500)]
    expected = embedder.embed_documents(texts)
    tasks = [asyncio.ensure_future(embedder.aembed_documents([t])) for t in texts]
    await asyncio.sleep(0)  # every task has submitted; the worker is busy with the first ones
    for task in tasks[::2]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for i, result in enumerate(results):
        if i % 2:
            assert isinstance(result, np.ndarray) and np.abs(result[0] - expected[i]).max() <= 1e-5
        else:
            assert isinstance(result, (asyncio.CancelledError, np.ndarray))
    assert embedder.runtime.batcher.pending_items == 0
    assert np.abs(embedder.embed_documents(texts[:3]) - expected[:3]).max() <= 1e-5  # still healthy


async def test_1000_mixed_requests_from_tasks_and_8_threads(
    tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    reranker = Qwen3Reranker.load(tiny_reranker_path)
    texts = [f"mixed {i} " + "token " * (i % 31) for i in range(1000)]
    documents = ["alpha beta", "gamma", "delta epsilon zeta"]
    expected_vectors = embedder.embed_documents(texts)
    expected_scores = {t: reranker.score(t, documents) for t in texts[1::2]}

    def threaded(i: int) -> Any:
        return embedder.embed_documents([texts[i]]) if i % 2 == 0 else reranker.score(texts[i], documents)

    async def run_round() -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            thread_futures = {i: pool.submit(threaded, i) for i in range(0, 1000, 4)}
            async_indices = [i for i in range(1000) if i % 4]
            calls = [
                embedder.aembed_documents([texts[i]]) if i % 2 == 0 else reranker.ascore(texts[i], documents)
                for i in async_indices
            ]
            async_results: list[Any] = await asyncio.gather(*calls)
            results: dict[int, Any] = dict(zip(async_indices, async_results, strict=True))
            results.update({i: f.result() for i, f in thread_futures.items()})
        for i, result in results.items():
            if i % 2 == 0:
                assert np.abs(result[0] - expected_vectors[i]).max() <= 1e-5
            else:
                assert np.abs(np.array(result) - np.array(expected_scores[texts[i]])).max() <= 1e-5

    await run_round()
    after_first = rss_mib()
    await run_round()
    assert rss_mib() - after_first < 50, "memory grew by more than 50 MiB between identical rounds"
    assert embedder.runtime.batcher.pending_items == 0 and reranker.runtime.batcher.pending_items == 0


@pytest.mark.models
async def test_overload_beyond_queue_bound_is_the_documented_error(tmp_path: Path) -> None:
    path = str(write_tiny_checkpoints(tmp_path, seed=11)["embedding"])
    embedder = Qwen3Embedder.load(path, max_queue_items=20)
    outcomes = await asyncio.gather(
        *(embedder.aembed_documents([f"flood {i}"]) for i in range(300)), return_exceptions=True
    )
    overloaded = [o for o in outcomes if isinstance(o, OverloadedError)]
    served = [o for o in outcomes if isinstance(o, np.ndarray)]
    assert overloaded and served and len(overloaded) + len(served) == 300
    assert "max_queue_items=20" in str(overloaded[0])
    embedder.close()


@pytest.mark.models
def test_close_with_work_in_flight_settles_every_request(tmp_path: Path) -> None:
    path = str(write_tiny_checkpoints(tmp_path, seed=12)["reranker"])
    reranker = Qwen3Reranker.load(path)
    futures = [reranker.runtime.batcher.submit([f"body {i} " * 40], reranker.encode_ids) for i in range(200)]
    reranker.close()
    done, not_done = concurrent.futures.wait(futures, timeout=30)
    assert not not_done
    for future in done:
        error = future.exception()
        assert error is None or isinstance(error, RuntimeClosedError)
    with pytest.raises(RuntimeClosedError):
        reranker.runtime.batcher.submit(["late"], reranker.encode_ids)


def test_interpreter_exit_with_work_in_flight_does_not_hang(tiny_embedding_path: str) -> None:
    script = textwrap.dedent(
        f"""
        import threading
        from qwen3_rag import Qwen3Embedder
        emb = Qwen3Embedder.load({tiny_embedding_path!r})
        futures = [emb.runtime.batcher.submit(["text " * 50], emb.encode_ids) for _ in range(300)]
        threading.Thread(target=lambda: emb.embed_documents(["late"] * 100), daemon=True).start()
        print("exiting", flush=True)
        """
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "exiting" in result.stdout and time.monotonic() - started < 120


def test_worker_threads_are_named_and_daemon(tiny_embedding_path: str) -> None:
    Qwen3Embedder.load(tiny_embedding_path).embed_documents(["x"])
    workers = [t for t in threading.enumerate() if t.name.startswith("qwen3-rag-")]
    assert workers and all(t.daemon for t in workers)
