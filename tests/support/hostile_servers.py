"""Hostile HTTP servers on 127.0.0.1 for the remote client's tests: raw sockets, scripted bytes.

:class:`ScriptedServer` accepts connections in a thread, reads each request (headers and a
``Content-Length`` body) and then runs its ``script`` on the socket: trickle an answer a byte at a
time, send any bytes and close, stall. No HTTP library on the server side, so the answers can be
as broken as a real network or a hostile server makes them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Script = Callable[[socket.socket, bytes], None]
"""Runs on the connection after the request (given as raw bytes) was read."""


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def trickle(payload: bytes, interval_s: float, stop_after_s: float) -> Script:
    """Send ``payload`` one byte every ``interval_s`` seconds, for at most ``stop_after_s``."""

    def script(conn: socket.socket, request: bytes) -> None:
        ended = time.monotonic() + stop_after_s
        for byte in payload:
            if time.monotonic() > ended:
                return
            conn.sendall(bytes([byte]))
            time.sleep(interval_s)

    return script


def send_then(data: bytes, *, stall_s: float = 0.0) -> Script:
    """Send ``data`` at once, wait ``stall_s``, close."""

    def script(conn: socket.socket, request: bytes) -> None:
        if data:
            conn.sendall(data)
        if stall_s:
            time.sleep(stall_s)

    return script


def http_response(body: bytes, status: str = "200 OK", content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    return head.encode() + body


class ScriptedServer:
    def __init__(self) -> None:
        self.script: Script = send_then(b"")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._handle, args=(conn, self.script), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _handle(self, conn: socket.socket, script: Script) -> None:
        with conn, contextlib.suppress(OSError):  # the client gave up and closed: what tests expect
            script(conn, read_request(conn))

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):  # wakes a waiting accept() now, not at its 0.2 s timeout
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(5)
