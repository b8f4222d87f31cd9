"""A server process on 127.0.0.1: its URLs and waiting for ``GET /health``.

One piece for ``qwen3-rag serve`` in the serving benchmark, the vLLM wrapper and the tests'
server helpers; each caller says in its own words (and exception type) why a start failed.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Health = Literal["healthy", "exited", "timeout"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LoopbackUrls:
    """The URLs of a server listening on 127.0.0.1 at ``self.port``."""

    port: int

    @property
    def url(self) -> str:
        """The server root (``/health``, ``/rerank``, ``/score``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``/v1/embeddings``, ``/v1/rerank``): what
        ``Qwen3Embedder.load(..., base_url=...)`` takes."""
        return f"{self.url}/v1"


@dataclass
class LoopbackProcess(LoopbackUrls):
    """A started server process, its port and the log file its output goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path


def wait_for_health(
    url: str, process: subprocess.Popen[bytes], *, deadline: float, interval_s: float
) -> Health:
    """Poll ``{url}/health`` until it answers 200 (``"healthy"``), the process ends (``"exited"``)
    or ``time.monotonic()`` passes ``deadline`` (``"timeout"``). No proxy from the environment."""
    import httpx

    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return "exited"
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return "healthy"
            except httpx.TransportError:
                pass
            time.sleep(interval_s)
    return "timeout"
