"""The micro-batcher: coalescing, isolation of failures, cancellation, overload, shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from qwen3_rag import OverloadedError, Qwen3Embedder, Qwen3Reranker, RuntimeClosedError
from qwen3_rag._runtime.batcher import MicroBatcher


def encode_chars(payloads: Sequence[Any]) -> list[list[int]]:
    return [[ord(c) for c in str(p)] or [0] for p in payloads]


class RecordingForward:
    """A forward pass over token ids: row = [sum, length]; can fail or stall on demand."""

    def __init__(self, fail_on: str | None = None, stall: threading.Event | None = None) -> None:
        self.calls: list[list[list[int]]] = []
        self.fail_on = [ord(c) for c in fail_on] if fail_on else None
        self.stall = stall

    def __call__(self, sequences: list[list[int]]) -> np.ndarray:
        self.calls.append(sequences)
        if self.stall is not None:
            self.stall.wait(10)
        if self.fail_on is not None and self.fail_on in sequences:
            raise RuntimeError("injected forward failure")
        return np.array([[sum(s), len(s)] for s in sequences], dtype=np.float32)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


def expected_row(text: str) -> list[float]:
    ids = encode_chars([text])[0]
    return [float(sum(ids)), float(len(ids))]


# ----------------------------------------------------------------------------- real models
async def test_200_mixed_async_and_threaded_calls_equal_sequential(
    tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, dtype="float32")
    reranker = Qwen3Reranker.load(tiny_reranker_path, dtype="float32")
    texts = [f"text number {i} " + "word " * (i % 17) for i in range(200)]
    sequential_docs = [embedder.embed_documents([t]) for t in texts]
    sequential_queries = [embedder.embed_queries([t]) for t in texts[:50]]
    sequential_scores = [reranker.score(t, texts[:3]) for t in texts[:50]]
    before = embedder.runtime.batcher.stats.forward_passes

    def threaded(i: int) -> np.ndarray:
        return embedder.embed_documents([texts[i]])

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        thread_futures = [pool.submit(threaded, i) for i in range(0, 200, 2)]
        async_docs = await asyncio.gather(*(embedder.aembed_documents([texts[i]]) for i in range(1, 200, 2)))
        async_queries = await asyncio.gather(*(embedder.aembed_queries([t]) for t in texts[:50]))
        async_scores = await asyncio.gather(*(reranker.ascore(t, texts[:3]) for t in texts[:50]))
        thread_docs = [f.result() for f in thread_futures]
    for k, i in enumerate(range(0, 200, 2)):
        assert np.abs(thread_docs[k] - sequential_docs[i]).max() <= 1e-5
    for k, i in enumerate(range(1, 200, 2)):
        assert np.abs(async_docs[k] - sequential_docs[i]).max() <= 1e-5
    for k in range(50):
        assert np.abs(async_queries[k] - sequential_queries[k]).max() <= 1e-5
        assert np.abs(np.array(async_scores[k]) - np.array(sequential_scores[k])).max() <= 1e-5
    passes = embedder.runtime.batcher.stats.forward_passes - before
    assert passes < 250, f"{passes} forward passes for 250 concurrent embedding requests: nothing coalesced"


async def test_concurrent_requests_share_forward_passes(tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    stats = embedder.runtime.batcher.stats
    requests_before, passes_before = stats.requests, stats.forward_passes
    await asyncio.gather(*(embedder.aembed_queries([f"question {i}"]) for i in range(64)))
    assert stats.requests - requests_before == 64
    assert stats.forward_passes - passes_before <= 8


async def test_event_loop_stays_free_during_forward_pass() -> None:
    release = threading.Event()
    batcher = MicroBatcher(RecordingForward(stall=release), name="stall", token_budget=100)
    task = asyncio.ensure_future(batcher.arun(["abc"], encode_chars))
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.005)
        ticks += 1
    assert not task.done() and ticks == 20  # the loop kept running while the forward stalled
    release.set()
    assert (await task).tolist() == [expected_row("abc")]
    batcher.close()


# ----------------------------------------------------------------------------- failures
def test_failing_batch_fails_only_its_callers_and_worker_lives() -> None:
    forward = RecordingForward(fail_on="poison")
    batcher = MicroBatcher(forward, name="fail", token_budget=1000, max_batch_size=1)
    futures = {text: batcher.submit([text], encode_chars) for text in ["good", "poison", "fine"]}
    with pytest.raises(RuntimeError, match="injected forward failure"):
        futures["poison"].result(5)
    assert futures["good"].result(5).tolist() == [expected_row("good")]
    assert futures["fine"].result(5).tolist() == [expected_row("fine")]
    assert batcher.run(["after"], encode_chars).tolist() == [expected_row("after")]
    assert batcher.stats.failed_batches == 1
    batcher.close()


def test_failure_inside_shared_batch_fails_every_caller_of_that_batch() -> None:
    release = threading.Event()
    forward = RecordingForward(fail_on="poison", stall=release)
    batcher = MicroBatcher(forward, name="shared", token_budget=1000, max_wait_s=0.05)
    blocker = batcher.submit(["x"], encode_chars)
    wait_until(lambda: len(forward.calls) == 1)  # the worker is stalled on "x"; the next two queue up
    together = [batcher.submit(["poison"], encode_chars), batcher.submit(["pois0n"], encode_chars)]
    release.set()
    blocker.result(5)
    for future in together:
        with pytest.raises(RuntimeError, match="injected"):
            future.result(5)
    assert batcher.run(["ok"], encode_chars).tolist() == [expected_row("ok")]
    batcher.close()


def test_encoder_error_fails_only_that_request() -> None:
    batcher = MicroBatcher(RecordingForward(), name="enc", token_budget=1000)

    def broken(_: Sequence[Any]) -> list[list[int]]:
        raise ValueError("cannot tokenize")

    bad = batcher.submit(["a"], broken)
    good = batcher.submit(["b"], encode_chars)
    with pytest.raises(ValueError, match="cannot tokenize"):
        bad.result(5)
    assert good.result(5).tolist() == [expected_row("b")]
    batcher.close()


def test_injected_failure_in_real_model_fails_one_request(
    tiny_embedding_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    batcher = embedder.runtime.batcher
    real_forward = batcher._forward
    poison = embedder.encode_ids(["poison"])[0]

    def flaky(sequences: list[list[int]]) -> np.ndarray:
        if poison in sequences:
            raise RuntimeError("device fell over")
        return real_forward(sequences)

    monkeypatch.setattr(batcher, "_forward", flaky)
    with pytest.raises(RuntimeError, match="device fell over"):
        embedder.embed_documents(["poison"])
    assert embedder.embed_documents(["healthy"]).shape == (1, embedder.dimensions)


# ----------------------------------------------------------------------------- cancellation
async def test_cancelled_requests_are_dropped_and_nothing_stays_pending() -> None:
    release = threading.Event()
    forward = RecordingForward(stall=release)
    batcher = MicroBatcher(forward, name="cancel", token_budget=10_000, max_wait_s=0.0)
    first = asyncio.ensure_future(batcher.arun(["first"], encode_chars))
    while not forward.calls:  # until the worker stalls on "first"
        await asyncio.sleep(0.001)
    tasks = [asyncio.ensure_future(batcher.arun([f"t{i}"], encode_chars)) for i in range(100)]
    await asyncio.sleep(0.01)
    for task in tasks[::2]:
        task.cancel()
    await asyncio.sleep(0.01)  # cancellation reaches the queued requests via loop callbacks
    release.set()
    await first
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for i, result in enumerate(results):
        if i % 2 == 0:
            assert isinstance(result, asyncio.CancelledError)
        else:
            assert isinstance(result, np.ndarray) and result.tolist() == [expected_row(f"t{i}")]
    seen = {tuple(s) for call in forward.calls for s in call}
    assert not any(tuple(encode_chars([f"t{i}"])[0]) in seen for i in range(0, 100, 2))
    assert batcher.stats.dropped_requests == 50
    assert batcher.pending_items == 0
    batcher.close()


# ----------------------------------------------------------------------------- overload and shutdown
def test_bounded_queue_raises_overload_error() -> None:
    release = threading.Event()
    forward = RecordingForward(stall=release)
    batcher = MicroBatcher(forward, name="bounded", token_budget=100, max_wait_s=0.0, max_queue_items=5)
    running = batcher.submit(["run"], encode_chars)
    wait_until(lambda: len(forward.calls) == 1)
    queued = [batcher.submit([f"q{i}"], encode_chars) for i in range(5)]
    with pytest.raises(OverloadedError, match="max_queue_items=5"):
        batcher.submit(["one too many"], encode_chars)
    release.set()
    assert running.result(5) is not None and all(f.result(5) is not None for f in queued)
    batcher.close()


def test_close_fails_queued_work_and_rejects_new_work() -> None:
    release = threading.Event()
    forward = RecordingForward(stall=release)
    batcher = MicroBatcher(forward, name="closing", token_budget=100, max_wait_s=0.0)
    running = batcher.submit(["run"], encode_chars)
    wait_until(lambda: len(forward.calls) == 1)
    queued = [batcher.submit([f"q{i}"], encode_chars) for i in range(3)]
    closer = threading.Thread(target=batcher.close)
    closer.start()
    wait_until(lambda: batcher.closed)
    release.set()
    closer.join(5)
    assert not closer.is_alive()
    assert running.result(5).tolist() == [expected_row("run")]
    for future in queued:
        with pytest.raises(RuntimeClosedError):
            future.result(5)
    with pytest.raises(RuntimeClosedError, match="closed"):
        batcher.submit(["late"], encode_chars)


def test_empty_request_returns_immediately() -> None:
    batcher = MicroBatcher(RecordingForward(), name="empty", token_budget=100)
    assert batcher.run([], encode_chars).shape == (0,)
    assert batcher.stats.forward_passes == 0
    batcher.close()
