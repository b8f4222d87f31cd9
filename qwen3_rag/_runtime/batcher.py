"""The micro-batcher: one worker thread per loaded model that coalesces every caller's work.

Callers (asyncio tasks on any event loop, or plain threads) submit a *request*: a list of
payloads plus a function that turns them into token ids. The worker takes the first waiting
request, waits up to ``max_wait_s`` for more, tokenizes them, plans length-sorted batches under
the token budget across *all* gathered requests, runs the forward passes and hands each caller
its own rows. Forward passes never run on an event loop; results reach asyncio callers through
``asyncio.wrap_future`` (thread-safe).

Guarantees: a batch whose forward pass raises fails exactly the requests with items in it (with
the original exception) and the worker keeps serving; a request cancelled before it runs is
dropped, and one abandoned mid-way stops costing compute; a full queue raises
:class:`OverloadedError` at submission; closing fails whatever is still queued with
:class:`RuntimeClosedError`. No future is ever left pending.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import OverloadedError, RuntimeClosedError
from .planning import plan_batches

logger = logging.getLogger(__name__)

Encoder = Callable[[Sequence[Any]], list[list[int]]]
Forward = Callable[[list[list[int]]], np.ndarray]


@dataclass(eq=False)
class _Request:
    payloads: Sequence[Any]
    encode: Encoder
    future: concurrent.futures.Future[np.ndarray] = field(default_factory=concurrent.futures.Future)
    abandoned: bool = False


@dataclass
class BatcherStats:
    """Counters for observability and for tests that prove coalescing happened."""

    requests: int = 0
    items: int = 0
    forward_passes: int = 0
    failed_batches: int = 0
    dropped_requests: int = 0
    requests_per_pass: dict[int, int] = field(default_factory=dict)
    """How many forward passes served N requests together: ``{N: passes}`` (N > 1 means shared)."""
    items_per_pass: dict[int, int] = field(default_factory=dict)
    """How many forward passes ran a batch of N items: ``{N: passes}``."""


_STOP = object()


class MicroBatcher:
    def __init__(
        self,
        forward: Forward,
        *,
        name: str,
        token_budget: int,
        max_batch_size: int | None = None,
        max_wait_s: float = 0.002,
        max_queue_items: int = 100_000,
        max_padding: int | None = None,
    ) -> None:
        self._forward = forward
        self.name = name
        self.token_budget = token_budget
        self.max_batch_size = max_batch_size
        self.max_padding = max_padding
        self.max_wait_s = max_wait_s
        self.max_queue_items = max_queue_items
        self.stats = BatcherStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending_items = 0
        self._closed = False
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- submission
    def submit(self, payloads: Sequence[Any], encode: Encoder) -> concurrent.futures.Future[np.ndarray]:
        """Queue ``payloads``; the future resolves to an array with one row per payload."""
        return self._enqueue(payloads, encode).future

    def _enqueue(self, payloads: Sequence[Any], encode: Encoder) -> _Request:
        request = _Request(payloads, encode)
        if not payloads:
            request.future.set_result(np.empty((0,), dtype=np.float32))
            return request
        with self._lock:
            if self._closed:
                raise RuntimeClosedError(
                    f"The {self.name} runtime is closed; load the model again to get a new one."
                )
            count = len(payloads)
            if self._pending_items and self._pending_items + count > self.max_queue_items:
                raise OverloadedError(
                    f"The {self.name} queue holds {self._pending_items} items and cannot take "
                    f"{count} more (max_queue_items={self.max_queue_items}). Retry later, send "
                    "fewer concurrent requests, or load with a larger max_queue_items."
                )
            self._pending_items += count
            self._ensure_worker()
        self._queue.put(request)
        return request

    def run(self, payloads: Sequence[Any], encode: Encoder) -> np.ndarray:
        """Blocking submission for threads."""
        return self.submit(payloads, encode).result()

    async def arun(self, payloads: Sequence[Any], encode: Encoder) -> np.ndarray:
        """Awaitable submission: the event loop is free while the worker computes."""
        request = self._enqueue(payloads, encode)
        try:
            return await asyncio.wrap_future(request.future)
        except asyncio.CancelledError:
            # If the worker already started this request, tell it to stop spending compute on it.
            request.abandoned = True
            raise

    @property
    def pending_items(self) -> int:
        return self._pending_items

    # ----------------------------------------------------------------- worker
    def _ensure_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"qwen3-rag-{self.name}", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            gathered = [first]
            deadline = time.monotonic() + self.max_wait_s
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                gathered.append(item)
            if self._closed:  # closing: whatever has not started is failed, not run
                self._fail_unstarted(gathered)
            else:
                self._serve(gathered)
        self._fail_queued()

    def _serve(self, gathered: list[_Request]) -> None:
        live = []
        for request in gathered:
            self._release(len(request.payloads))
            if request.future.set_running_or_notify_cancel():
                live.append(request)
            else:
                self.stats.dropped_requests += 1
        try:
            self._serve_live(live)
        except BaseException as exc:  # a bug here must not kill the worker or hang callers
            logger.exception("qwen3-rag %s worker failed unexpectedly", self.name)
            for request in live:
                _fail(request, exc)

    def _serve_live(self, live: list[_Request]) -> None:
        owners: list[tuple[_Request, int]] = []
        token_ids: list[list[int]] = []
        for request in live:
            try:
                encoded = request.encode(request.payloads)
            except Exception as exc:
                _fail(request, exc)
                continue
            owners.extend((request, i) for i in range(len(encoded)))
            token_ids.extend(encoded)
            self.stats.requests += 1
            self.stats.items += len(encoded)
        rows: dict[_Request, list[Any]] = {r: [None] * len(r.payloads) for r in live}
        left = {r: len(r.payloads) for r in live}
        batches = plan_batches(
            [len(ids) for ids in token_ids],
            token_budget=self.token_budget,
            max_batch_size=self.max_batch_size,
            max_padding=self.max_padding,
        )
        for batch in batches:
            batch = [i for i in batch if _wanted(owners[i][0])]
            if not batch:
                continue
            _count(self.stats.requests_per_pass, len({owners[i][0] for i in batch}))
            _count(self.stats.items_per_pass, len(batch))
            try:
                self.stats.forward_passes += 1
                output = self._forward([token_ids[i] for i in batch])
            except Exception as exc:
                self.stats.failed_batches += 1
                for request in {owners[i][0] for i in batch}:
                    _fail(request, exc)
                continue
            for row, i in zip(output, batch, strict=True):
                request, position = owners[i]
                rows[request][position] = row
                left[request] -= 1
                if left[request] == 0 and not request.future.done():
                    request.future.set_result(np.stack(rows[request]))
        for request in live:
            if not request.future.done():  # abandoned part-way: settle it, never leave it pending
                self.stats.dropped_requests += 1
                _fail(request, concurrent.futures.CancelledError())

    def _release(self, count: int) -> None:
        with self._lock:
            self._pending_items -= count

    # ----------------------------------------------------------------- shutdown
    def close(self, timeout: float | None = 30.0) -> None:
        """Finish the batch in progress, fail everything still queued, stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._queue.put(_STOP)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        else:
            self._fail_queued()

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._fail_unstarted([item])

    def _fail_unstarted(self, requests: list[_Request]) -> None:
        for request in requests:
            self._release(len(request.payloads))
            if request.future.set_running_or_notify_cancel():
                request.future.set_exception(
                    RuntimeClosedError(f"The {self.name} runtime was closed before this request ran.")
                )

    @property
    def closed(self) -> bool:
        return self._closed


def _wanted(request: _Request) -> bool:
    return not request.abandoned and not request.future.done()


def _fail(request: _Request, exc: BaseException) -> None:
    if not request.future.done():
        request.future.set_exception(exc)


def _count(histogram: dict[int, int], size: int) -> None:
    histogram[size] = histogram.get(size, 0) + 1
