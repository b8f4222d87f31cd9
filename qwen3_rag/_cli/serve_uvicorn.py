"""Running the app under uvicorn, with a drain on SIGTERM and a clean exit status."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from .._environment import QWEN3_RAG_API_KEY
from .._runtime.validation import check_positive_int
from ..server._app import create_app
from ..server._config import ServerConfig
from ..server._limits import ConnectionLimits
from ..server._protocol import guarded_protocol
from ..server._state import Loader
from .process import EXIT_ERROR


class DrainingServer(uvicorn.Server):
    """uvicorn's server that marks the app closing on SIGTERM/SIGINT and exits 0 after SIGTERM.

    uvicorn already drains (stops accepting, lets requests in flight finish); the closing mark
    makes requests that still arrive on open connections get 503 instead of a new start.
    """

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)
        captured = getattr(self, "_captured_signals", None)
        if sig == signal.SIGTERM and isinstance(captured, list) and sig in captured:
            # uvicorn re-raises the captured signal after its graceful shutdown, which would end the
            # process as killed by SIGTERM; a drained shutdown is a clean exit.
            captured.remove(sig)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace, loader: Loader, api_key: str | None) -> int:
    """Serve until a signal; 0 after a clean drain, 1 if the models failed to load or no bind."""
    config = ServerConfig(
        api_key=api_key, max_request_bytes=args.max_request_bytes, max_inputs=args.max_inputs
    )
    limits = ConnectionLimits(
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        max_connections=args.max_connections,
    )
    check_positive_int(args.keep_alive_timeout, "--keep-alive-timeout")
    if not is_loopback(args.host) and api_key is None:
        print(
            f"qwen3-rag serve: warning: binding {args.host} without an API key: anyone who can reach "
            f"port {args.port} can use the models. Set ${QWEN3_RAG_API_KEY.name} (or --api-key), or bind "
            "127.0.0.1 and put a TLS proxy in front.",
            file=sys.stderr,
        )
    server: DrainingServer | None = None

    def stop_after_failed_load(exc: BaseException) -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(config=config, loader=loader, on_load_failed=stop_after_failed_load)
    state: Any = app.state.server
    server = DrainingServer(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            access_log=args.access_log,
            timeout_graceful_shutdown=args.graceful_timeout,
            timeout_keep_alive=args.keep_alive_timeout,
            http=guarded_protocol(limits),  # header/body timeouts and a connection limit: ._protocol
            lifespan="on",
            log_level="info",
        ),
        on_exit=state.begin_closing,
    )
    server.run()
    if state.error is not None:
        print(
            f"qwen3-rag serve: error: the models could not be loaded: {' '.join(str(state.error).split())}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return 0 if server.started else EXIT_ERROR  # not started: uvicorn said why (e.g. port in use)
