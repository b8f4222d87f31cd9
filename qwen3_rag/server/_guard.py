"""The gate every request passes before any endpoint runs: phase, API key, body size.

Pure ASGI, so it answers without parsing anything: 503 while the models load or the server
closes, 401 for a missing or wrong key (compared in constant time), 413 for a body over the
limit (by ``Content-Length`` and by the bytes actually received, for chunked uploads). The body
is read here once, bounded, and handed on to the app.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._config import ServerConfig
from ._errors import ApiError
from ._state import ServerState

OPEN_PATHS = ("/health", "/metrics")
DRAIN_FACTOR = 16
"""An oversized body is read and dropped up to this many times the limit, so the client sees the
413 instead of a reset connection; past that the connection is closed."""


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _too_large(limit: int, got: str) -> ApiError:
    return ApiError(
        413,
        f"The request body is {got}, over this server's limit of {limit} bytes "
        "(--max-request-bytes); send fewer or shorter inputs per request.",
        code="request_too_large",
    )


class GuardMiddleware:
    def __init__(self, app: ASGIApp, state: ServerState, config: ServerConfig) -> None:
        self.app = app
        self.state = state
        self.config = config
        self._key = config.api_key.encode() if config.api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            body = await self._read_body(scope, receive, send)
            if body is None:
                return
            problem = _not_utf8(body)
            if problem is not None:
                await problem.response()(scope, receive, send)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> ApiError | None:
        phase = self.state.phase
        if phase == "closing":
            return ApiError(503, "The server is shutting down; retry on another replica.", code="closing")
        if phase == "loading":
            return ApiError(
                503,
                "The server is still loading its models; retry shortly.",
                code="loading",
                headers={"Retry-After": "1"},
            )
        if phase == "failed":
            return ApiError(
                503, f"The server failed to load its models: {self.state.error}", code="load_failed"
            )
        if self._key is not None:  # every path but /health and /metrics: unknown ones say 401, not 404
            given = _header(scope, b"authorization") or b""
            scheme, _, token = given.partition(b" ")
            if not given:
                return ApiError(
                    401,
                    "Missing API key: send the header 'Authorization: Bearer <key>'.",
                    code="missing_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self._key):
                return ApiError(
                    401, "Invalid API key.", code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"}
                )
        return None

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or ``None`` once a 413 was sent (or the client went away)."""
        limit = self.config.max_request_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            if int(declared) <= DRAIN_FACTOR * limit:
                await _drain(receive)
            await _too_large(limit, f"{int(declared)} bytes").response()(scope, receive, send)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _drain(receive, size, DRAIN_FACTOR * limit)
                await _too_large(limit, f"over {limit} bytes").response()(scope, receive, send)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _not_utf8(body: bytes) -> ApiError | None:
    """A 400 for a body that is not UTF-8 (JSON is UTF-8: RFC 8259), naming the first bad byte."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ApiError(
            400,
            f"The request body is not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); "
            "send JSON encoded as UTF-8.",
            code="invalid_encoding",
            param="body",
        )
    return None


async def _drain(receive: Receive, size: int = 0, cap: int | None = None) -> None:
    while cap is None or size <= cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
