"""An event loop in a daemon thread, for synchronous callers of async code.

The remote client's synchronous calls run on one of these, so that a call's deadline is
``asyncio.wait_for`` around the whole call (connect, every read, every retry and backoff): httpx's
own timeouts bound each socket operation, not a call, and a server that sends a byte now and then
would otherwise hold a synchronous call for as long as it likes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A running event loop in its own daemon thread; :meth:`run` blocks the caller until done."""

    def __init__(self, name: str) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=main, name=name, daemon=True)
        self._thread.start()
        started.wait()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """The coroutine's result; an interrupted caller (Ctrl+C) cancels it."""
        if threading.current_thread() is self._thread:  # would wait on itself forever
            coroutine.close()
            raise RuntimeError("LoopThread.run called from its own loop thread")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self, cleanup: Awaitable[Any] | None = None, timeout_s: float = 5.0) -> None:
        """Run ``cleanup`` (e.g. closing clients) on the loop, then stop it and its thread."""
        if self.loop.is_closed():
            return
        if cleanup is not None:

            async def wrapped() -> None:
                await cleanup

            with contextlib.suppress(Exception):  # closing must not fail: the sockets go with the loop
                asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout_s)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.loop.close()
