"""uvicorn's h11 protocol with bounds on slow and idle clients.

uvicorn bounds a connection that sits idle *between* requests (``timeout_keep_alive``), but not a
client that opens a connection and sends nothing, sends its headers a byte at a time, or stops in
the middle of its body: each such connection holds a file descriptor (and, in its body, a request
task) for as long as the client likes, so a single client could exhaust the server. This protocol
adds, per connection:

- a **header timeout**: the request line and headers must arrive in full within
  ``header_timeout_s`` of the connection opening (or of the first byte of a later request on a
  kept-alive connection); else ``408`` and the connection is closed;
- a **body timeout**: the whole body must arrive within ``body_timeout_s`` of the headers; else
  the connection is closed (the request sees a disconnect and ends);
- a **connection limit**: past ``max_connections`` open connections, a new one gets ``503`` and is
  closed at once, before it can hold anything.

The limits are totals, not gaps between bytes, so trickling a byte now and then does not extend
them. uvicorn's own HTTP/1.1 parser limits (header size: ``h11_max_incomplete_event_size``) stay.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._errors import error_body
from ._limits import ConnectionLimits


def _raw_response(status: int, reason: str, message: str, code: str) -> bytes:
    body = json.dumps(error_body(status, message, code=code)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedH11Protocol(H11Protocol):
    """:class:`H11Protocol` plus :class:`ConnectionLimits` (set on a subclass: :func:`guarded_protocol`)."""

    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None  # "headers" or "body" while a clock runs
        self._clock: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            message = (
                f"The server has {self.limits.max_connections} connections open (--max-connections); "
                "retry shortly."
            )
            transport.write(_raw_response(503, "Service Unavailable", message, "too_many_connections"))
            transport.close()
            return
        self._start("headers")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        self._stop()
        super().on_response_complete()
        if self.conn.their_state is not h11.IDLE:  # a pipelined request was parsed just now
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    # ----------------------------------------------------------------- the clocks
    def _follow(self) -> None:
        """Run the clock of what the client is sending now: headers, body, or nothing."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._phase != "headers":
                self._start("headers")
        elif state is h11.SEND_BODY:
            if self._phase != "body":
                self._start("body")
        else:  # the request is in: the server's turn, bounded by the app, not the client
            self._stop()

    def _start(self, phase: str) -> None:
        self._stop()
        seconds = self.limits.header_timeout_s if phase == "headers" else self.limits.body_timeout_s
        self._phase = phase
        self._clock = self.loop.call_later(seconds, self._expired, phase)

    def _stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
        self._clock, self._phase = None, None

    def _expired(self, phase: str) -> None:
        self._clock, self._phase = None, None
        if self.transport.is_closing():
            return
        if phase == "headers" and self.conn.our_state is h11.IDLE:
            seconds = self.limits.header_timeout_s
            message = f"The request's headers did not arrive within {seconds:g} s (--header-timeout)."
            self.transport.write(_raw_response(408, "Request Timeout", message, "request_timeout"))
        # The body's clock: the app is waiting for the body; closing ends its read with a disconnect.
        self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """The protocol class to give ``uvicorn.Config(http=...)`` for these limits."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})
