"""Requests still running when the graceful shutdown runs out: 503 in the JSON error shape.

After SIGTERM uvicorn lets requests in flight finish for ``--graceful-timeout`` seconds, then
cancels them; a cancelled request would otherwise end in uvicorn's plain-text 500 with a
traceback logged per request. This layer answers it as what it is: the server went away before
the request finished (503, code ``shutdown_timeout``), and logs nothing more than uvicorn's one
line saying how many requests it cancelled.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from ._asgi import HttpMiddleware, WatchedSend
from ._errors import ApiError
from ._state import ServerState


class ShutdownMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        super().__init__(app)
        self.state = state

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            if self.state.phase != "closing":
                raise  # not the shutdown's cancellation: not ours to answer
            if watched.status is not None:
                return  # a response was under way: uvicorn closes the connection
            await ApiError(
                503,
                "The server shut down before this request finished (--graceful-timeout); retry it, "
                "on another replica if there is one.",
                code="shutdown_timeout",
            ).response()(scope, receive, send)
