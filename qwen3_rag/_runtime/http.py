"""HTTP for the remote backend: pooled httpx clients, a deadline per call, retries, one error type.

Embedding and scoring are idempotent, so a call is retried (exponential backoff with jitter,
``Retry-After`` honoured) on connection errors and on 429, 502, 503 and 504, as long as the
call's deadline (``timeout`` seconds from its start) allows. Anything else that is not a 200 is
a :class:`~qwen3_rag._errors.RemoteBackendError` naming the URL and the status, with the
server's own message. Asyncio callers get one pooled ``httpx.AsyncClient`` per event loop
(httpx connections belong to the loop that opened them); threads share one, on this client's own
event-loop thread (:mod:`.loop_thread`), so that ``timeout`` is one deadline for the whole call
for every caller: a server that answers one byte at a time cannot stretch it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
import weakref
from typing import Any

from .._errors import InvalidOptionError, MissingDependencyError, RemoteBackendError
from .loop_thread import LoopThread
from .validation import check_positive_int

RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as exc:  # pragma: no cover - httpx comes with the test and serve extras
        raise MissingDependencyError(
            "A remote model (base_url=...) needs httpx: pip install 'qwen3-rag[remote]'."
        ) from exc
    return httpx


class HttpClient:
    """JSON over HTTP to one server, with retries inside a per-call deadline."""

    def __init__(self, base_url: str, *, api_key: str | None, timeout: float, max_retries: int) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidOptionError(
                f"base_url={base_url!r}; it must be an http:// or https:// URL such as "
                "'http://127.0.0.1:8000/v1' (the part before /embeddings and /rerank)."
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidOptionError(f"timeout={timeout!r}; it must be a number of seconds > 0.")
        check_positive_int(max_retries, "max_retries", minimum=0, hint="Use 0 for no retries.")
        self.httpx = _httpx()
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._limits = self.httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._lock = threading.Lock()
        self._runner: LoopThread | None = None
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    # ----------------------------------------------------------------- clients
    def _loop_thread(self) -> LoopThread:
        with self._lock:
            # A forked child inherits the object but not the thread: it starts its own.
            if self._runner is None or self._runner.pid != os.getpid():
                self._runner = LoopThread("qwen3-rag-http")
                self._async_clients = weakref.WeakKeyDictionary()
            return self._runner

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async_clients.get(loop)
            if client is None:
                client = self.httpx.AsyncClient(headers=self.headers, limits=self._limits)
                self._async_clients[loop] = client
            return client

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones)."""
        with self._lock:
            runner, self._runner = self._runner, None
            client = self._async_clients.get(runner.loop) if runner is not None else None
            self._async_clients = weakref.WeakKeyDictionary()  # their loops close their sockets
        if runner is not None:
            runner.close(client.aclose() if client is not None else None)

    # ----------------------------------------------------------------- calls
    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """The decoded JSON answer of a 200; retried, and bounded by ``timeout`` in all.

        Runs :meth:`arequest` on this client's own event-loop thread: the caller's thread waits,
        and the deadline is the same exact one as for async callers.
        """
        return self._loop_thread().run(self.arequest(method, path, payload))

    async def arequest(self, method: str, path: str, payload: Any = None) -> Any:
        """Async :meth:`request` (the event loop waits on sockets only).

        ``asyncio.wait_for`` bounds the whole call (connecting, sending, every read of a slow
        answer, the backoff between retries): the call ends by ``timeout`` seconds, whatever the
        server does. httpx's own timeouts (per socket operation) stay as a second bound.
        """
        url, started = self.url(path), time.monotonic()
        try:
            return await asyncio.wait_for(self._attempts(method, url, started, _body(payload)), self.timeout)
        except asyncio.TimeoutError as exc:  # not the builtin TimeoutError before Python 3.11
            elapsed = time.monotonic() - started
            raise RemoteBackendError(
                f"{url} did not answer within timeout={self.timeout:g} s (stopped after {elapsed:.1f} s). "
                "The server is overloaded, stuck or answering too slowly; raise timeout= or add servers.",
                url=url,
            ) from exc

    async def _attempts(self, method: str, url: str, started: float, content: bytes | None) -> Any:
        attempt = 0
        while True:
            attempt += 1
            remaining = self._remaining(started, url, attempt)
            try:
                response = await self._async_client().request(
                    method, url, content=content, headers=_json_headers(content), timeout=remaining
                )
            except self.httpx.TransportError as exc:
                delay = self._retry_after_failure(exc, None, url, started, attempt)
            else:
                if response.status_code == 200:
                    return _json(response, url)
                delay = self._retry_after_failure(None, response, url, started, attempt)
            await asyncio.sleep(delay)

    # ----------------------------------------------------------------- decisions
    def _remaining(self, started: float, url: str, attempt: int) -> float:
        remaining = self.timeout - (time.monotonic() - started)
        if remaining <= 0:
            raise RemoteBackendError(
                f"{url} did not answer within timeout={self.timeout:g} s ({attempt - 1} attempts).",
                url=url,
            )
        return remaining

    def _retry_after_failure(
        self, exc: BaseException | None, response: Any, url: str, started: float, attempt: int
    ) -> float:
        """Seconds to wait before the next attempt, or raise the error that ends the call."""
        elapsed = time.monotonic() - started
        if exc is not None:
            if isinstance(exc, self.httpx.TimeoutException):
                raise RemoteBackendError(
                    f"{url} did not answer within timeout={self.timeout:g} s "
                    f"({type(exc).__name__} after {elapsed:.1f} s, attempt {attempt}). The server is "
                    "overloaded or stuck; raise timeout= or add servers.",
                    url=url,
                ) from exc
            failure, status = f"could not be reached ({type(exc).__name__}: {exc})", None
            retryable = True
        else:
            status = int(response.status_code)
            failure = f"answered HTTP {status}: {_server_message(response)}"
            retryable = status in RETRY_STATUSES
        delay = min(BACKOFF_S * 2 ** (attempt - 1), MAX_BACKOFF_S) * (0.5 + random.random() / 2)
        if response is not None:
            delay = max(delay, _retry_after(response))
        if retryable and attempt <= self.max_retries and elapsed + delay < self.timeout:
            return delay
        tries = f" after {attempt} attempts in {elapsed:.1f} s" if attempt > 1 else ""
        raise RemoteBackendError(f"{url} {failure}{tries}.{_hint(status)}", url=url, status=status) from exc


def _body(payload: Any) -> bytes | None:
    if payload is None:
        return None
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _json_headers(content: bytes | None) -> dict[str, str]:
    return {"Content-Type": "application/json"} if content is not None else {}


def _json(response: Any, url: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise RemoteBackendError(
            f"{url} answered 200 with a body that is not JSON ({response.text[:200]!r}); is "
            "base_url the API root (e.g. http://host:8000/v1)?",
            url=url,
            status=200,
        ) from exc


def _server_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
        if isinstance(error, str):
            return error[:500]
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])[:500]
    return json.dumps(body)[:300]


def _retry_after(response: Any) -> float:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0


def _hint(status: int | None) -> str:
    if status is None:
        return " Check that the server is running and that base_url is right."
    if status == 401:
        return " Pass api_key= (or set QWEN3_RAG_API_KEY) with the server's key."
    if status == 404:
        return " Check base_url (it ends with /v1 for qwen3-rag serve and vLLM) and the model name."
    if status in RETRY_STATUSES:
        return " The server stayed busy or unavailable; retry later, raise timeout=, or add servers."
    return ""
