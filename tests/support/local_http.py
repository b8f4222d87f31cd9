"""A stdlib HTTP handler served on 127.0.0.1 in a daemon thread: the tests' stand-in endpoints."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


@contextmanager
def http_server_in_thread(
    handler: type[BaseHTTPRequestHandler], server_class: type[HTTPServer] = HTTPServer
) -> Iterator[str]:
    """``handler`` answering on a free loopback port for the ``with`` block; yields the root URL
    (``http://127.0.0.1:PORT``), then stops the server and closes its socket."""
    server = server_class(("127.0.0.1", 0), handler)
    # shutdown() waits for the loop's next poll: the default half second, per test, added up.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
