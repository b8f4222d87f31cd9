"""Requests still running when the graceful shutdown runs out: 503 in the JSON error shape.

After SIGTERM uvicorn lets requests in flight finish for ``--graceful-timeout`` seconds, then
cancels them; a cancelled request would otherwise end in uvicorn's plain-text 500 with a
traceback logged per request. This layer answers it as what it is: the server went away before
the request finished (503, code ``shutdown_timeout``), and logs nothing more than uvicorn's one
line saying how many requests it cancelled.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError
from ._state import ServerState


class ShutdownMiddleware:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if self.state.phase != "closing":
                raise  # not the shutdown's cancellation: not ours to answer
            if started:
                return  # a response was under way: uvicorn closes the connection
            await ApiError(
                503,
                "The server shut down before this request finished (--graceful-timeout); retry it, "
                "on another replica if there is one.",
                code="shutdown_timeout",
            ).response()(scope, receive, send)
