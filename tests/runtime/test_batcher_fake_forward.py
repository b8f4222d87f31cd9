"""The micro-batcher with a fake forward (fast layer): coalescing callers from threads and event
loops, input order, budgets, errors, cancellation and closing. No model is involved: the forward
turns each token-id row into ``[sum, length]``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from qwen3_rag import RuntimeClosedError
from qwen3_rag._runtime.batcher import MicroBatcher


def encode(payloads: Sequence[Any]) -> list[list[int]]:
    """A payload string becomes its character codes (so a row's length is the string's length)."""
    return [[ord(c) for c in str(p)] or [0] for p in payloads]


def row(text: str) -> list[float]:
    ids = encode([text])[0]
    return [float(sum(ids)), float(len(ids))]


class FakeForward:
    """Records every batch; blocks while ``gate`` is clear; can return a wrong number of rows."""

    def __init__(self, gate: threading.Event | None = None, short_rows: bool = False) -> None:
        self.calls: list[list[list[int]]] = []
        self.gate = gate
        self.short_rows = short_rows

    def __call__(self, sequences: list[list[int]]) -> np.ndarray:
        self.calls.append(sequences)
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        rows = [[sum(s), len(s)] for s in sequences]
        return np.array(rows[:-1] if self.short_rows else rows, dtype=np.float32)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


def stalled(batcher: MicroBatcher, forward: FakeForward) -> concurrent.futures.Future[np.ndarray]:
    """Submit one request and wait until the worker is inside its forward pass (held by the gate)."""
    future = batcher.submit(["hold"], encode)
    wait_until(lambda: len(forward.calls) == 1)
    return future


# ----------------------------------------------------------------------------- coalescing
def test_callers_from_many_threads_share_forward_passes(gate: threading.Event) -> None:
    forward = FakeForward(gate)
    batcher = MicroBatcher(forward, name="threads", token_budget=10_000, max_wait_s=0.0)
    first = stalled(batcher, forward)
    texts = [f"thread {i}" for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(texts)) as pool:
        results = [pool.submit(batcher.run, [t], encode) for t in texts]
        wait_until(lambda: batcher.pending_items == 20)  # all queued behind the stalled pass
        gate.set()
        assert [r.result(5).tolist() for r in results] == [[row(t)] for t in texts]
    assert first.result(5).tolist() == [row("hold")]
    # The 20 queued requests are gathered together: one more pass, serving all of them.
    assert len(forward.calls) == 2 and len(forward.calls[1]) == 20
    assert batcher.stats.requests == 21 and batcher.stats.forward_passes == 2
    assert batcher.stats.requests_per_pass == {1: 1, 20: 1}
    batcher.close()


async def test_async_callers_share_forward_passes(gate: threading.Event) -> None:
    forward = FakeForward(gate)
    batcher = MicroBatcher(forward, name="tasks", token_budget=10_000, max_wait_s=0.0)
    first = stalled(batcher, forward)
    tasks = [asyncio.ensure_future(batcher.arun([f"task {i}", f"more {i}"], encode)) for i in range(25)]
    while batcher.pending_items < 50:  # every task has submitted
        await asyncio.sleep(0.001)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert [r.tolist() for r in results] == [[row(f"task {i}"), row(f"more {i}")] for i in range(25)]
    assert len(forward.calls) == 2 and batcher.stats.items_per_pass == {1: 1, 50: 1}
    first.result(5)
    batcher.close()


def test_the_wait_window_gathers_requests_that_arrive_soon_after_the_first() -> None:
    forward = FakeForward()
    batcher = MicroBatcher(forward, name="window", token_budget=10_000, max_wait_s=0.5)
    futures = []
    for i in range(3):  # the worker has taken the first one and waits for more
        futures.append(batcher.submit([f"r{i}"], encode))
        time.sleep(0.05)
    assert [f.result(5).tolist() for f in futures] == [[row(f"r{i}")] for i in range(3)]
    assert len(forward.calls) == 1 and len(forward.calls[0]) == 3
    batcher.close()


def test_results_reach_callers_on_their_own_event_loops(gate: threading.Event) -> None:
    """Four threads, each with its own event loop: every task gets its own rows and resumes on its
    own loop's thread (the worker hands results over thread-safely)."""
    forward = FakeForward(gate)
    batcher = MicroBatcher(forward, name="loops", token_budget=10_000, max_wait_s=0.0)
    first = stalled(batcher, forward)
    outcomes: dict[int, tuple[list[list[float]], bool]] = {}

    def one_loop(n: int) -> None:
        async def caller() -> None:
            result = await batcher.arun([f"loop {n}"], encode)
            outcomes[n] = (result.tolist(), threading.current_thread() is thread_of[n])

        asyncio.run(caller())

    thread_of = {n: threading.Thread(target=one_loop, args=(n,)) for n in range(4)}
    for thread in thread_of.values():
        thread.start()
    wait_until(lambda: batcher.pending_items == 4)
    gate.set()
    for thread in thread_of.values():
        thread.join(5)
    assert outcomes == {n: ([row(f"loop {n}")], True) for n in range(4)}
    assert len(forward.calls) == 2  # the four loops' requests shared one pass
    first.result(5)
    batcher.close()


# ----------------------------------------------------------------------------- order and budgets
def test_rows_come_back_in_input_order_though_batches_are_length_sorted() -> None:
    forward = FakeForward()
    batcher = MicroBatcher(forward, name="order", token_budget=12, max_wait_s=0.0)
    texts = ["a", "abcdefghij", "abc", "", "abcdef", "ab", "abcdefgh"]
    assert batcher.run(texts, encode).tolist() == [row(t) for t in texts]
    seen = [len(s) for call in forward.calls for s in call]
    assert seen == sorted(seen, reverse=True)  # the forward saw them longest first
    for call in forward.calls:  # and every batch kept to the padded-token budget (or held one item)
        assert len(call) == 1 or len(call) * max(len(s) for s in call) <= 12
    batcher.close()


def test_max_batch_size_caps_every_forward_pass() -> None:
    forward = FakeForward()
    batcher = MicroBatcher(forward, name="cap", token_budget=10_000, max_batch_size=2)
    assert batcher.run([f"x{i}" for i in range(5)], encode).shape == (5, 2)
    assert [len(call) for call in forward.calls] == [2, 2, 1]
    batcher.close()


# ----------------------------------------------------------------------------- errors
def test_a_forward_with_the_wrong_row_count_fails_its_callers_and_the_worker_lives() -> None:
    forward = FakeForward(short_rows=True)
    batcher = MicroBatcher(forward, name="rows", token_budget=10_000)
    with pytest.raises(ValueError):  # zip(strict=True): rows and items disagree
        batcher.run(["a", "b"], encode)
    forward.short_rows = False
    assert batcher.run(["c"], encode).tolist() == [row("c")]
    batcher.close()


async def test_an_error_reaches_an_async_caller_as_raised() -> None:
    class Boom(Exception):
        pass

    error = Boom("the device is gone")

    def failing(_: list[list[int]]) -> np.ndarray:
        raise error

    batcher = MicroBatcher(failing, name="boom", token_budget=100)
    with pytest.raises(Boom) as caught:
        await batcher.arun(["x"], encode)
    assert caught.value is error  # the original exception object, not a wrapper
    assert batcher.stats.failed_batches == 1
    batcher.close()


# ----------------------------------------------------------------------------- cancellation
def test_a_thread_future_cancelled_while_queued_never_runs(gate: threading.Event) -> None:
    forward = FakeForward(gate)
    batcher = MicroBatcher(forward, name="cancel", token_budget=10_000, max_wait_s=0.0)
    first = stalled(batcher, forward)
    doomed = batcher.submit(["doomed"], encode)
    kept = batcher.submit(["kept"], encode)
    assert doomed.cancel()
    gate.set()
    assert kept.result(5).tolist() == [row("kept")] and first.result(5) is not None
    assert encode(["doomed"])[0] not in [s for call in forward.calls for s in call]
    assert batcher.stats.dropped_requests == 1 and batcher.pending_items == 0
    batcher.close()


async def test_a_request_abandoned_mid_way_stops_costing_forward_passes(gate: threading.Event) -> None:
    forward = FakeForward(gate)
    batcher = MicroBatcher(forward, name="abandon", token_budget=10_000, max_batch_size=1, max_wait_s=0.0)
    task = asyncio.ensure_future(batcher.arun([f"item {i}" for i in range(20)], encode))
    while not forward.calls:  # the worker is inside the request's first pass
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.set()
    wait_until(lambda: batcher.stats.dropped_requests == 1)
    assert len(forward.calls) <= 2  # the pass under way (and at most one more) ran, not all 20
    assert batcher.run(["after"], encode).tolist() == [row("after")]
    batcher.close()


# ----------------------------------------------------------------------------- closing
def test_close_without_any_work_and_twice() -> None:
    batcher = MicroBatcher(FakeForward(), name="idle", token_budget=100)
    batcher.close()
    batcher.close()  # idempotent
    assert batcher.closed
    with pytest.raises(RuntimeClosedError, match="idle runtime is closed"):
        batcher.submit(["x"], encode)


async def test_arun_after_close_is_refused() -> None:
    batcher = MicroBatcher(FakeForward(), name="late", token_budget=100)
    assert (await batcher.arun(["x"], encode)).tolist() == [row("x")]
    batcher.close()
    with pytest.raises(RuntimeClosedError, match="load the model again"):
        await batcher.arun(["y"], encode)


def test_the_worker_is_one_named_daemon_thread_started_on_first_use() -> None:
    batcher = MicroBatcher(FakeForward(), name="named", token_budget=100)
    assert "qwen3-rag-named" not in {t.name for t in threading.enumerate()}  # none before first use
    batcher.run(["a"], encode)
    batcher.run(["b"], encode)
    workers = [t for t in threading.enumerate() if t.name == "qwen3-rag-named"]
    assert len(workers) == 1 and workers[0].daemon
    batcher.close()
    workers[0].join(5)
    assert not workers[0].is_alive()
