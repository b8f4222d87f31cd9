"""A server process on 127.0.0.1 (``qwen3-rag serve``, vLLM; the tests' server helpers too): its
URLs, starting it in a process group of its own, waiting for ``GET /health``, stopping it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Health = Literal["healthy", "exited", "timeout"]
QUIET = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
QUIET["DO_NOT_TRACK"] = "1"  # vLLM's usage statistics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(foreign: bool) -> dict[str, str]:
    """A server's or worker's environment: offline, quiet, unbuffered, no API key; ``foreign`` (another
    virtual environment, vLLM's): nothing of this one's Python paths may leak in."""
    env = {**os.environ, **QUIET, "PYTHONUNBUFFERED": "1"}
    for key in ("QWEN3_RAG_API_KEY", *(("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") if foreign else ())):
        env.pop(key, None)
    return env


def launch(command: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """``command`` with its output to ``log``, in a process group of its own (its children end with it)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass
class LoopbackProcess:
    """A started server process, its port and the log file its output goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The server root (``/health``, ``/rerank``, ``/score``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``/v1/embeddings``): what ``Qwen3Embedder.load(base_url=...)`` takes."""
        return f"{self.url}/v1"

    def wait_healthy(self, timeout_s: float) -> float:
        """Seconds until ``GET /health`` answered 200; raises with the log's tail if it did not."""
        start = time.monotonic()
        health = wait_for_health(self.url, self.process, deadline=start + timeout_s, interval_s=0.25)
        if health != "healthy":
            tail = self.log.read_text(errors="replace")[-4000:]
            error = TimeoutError if health == "timeout" else RuntimeError
            raise error(f"{self.process.args!r}: {health} (exit code {self.process.returncode}):\n{tail}")
        return time.monotonic() - start

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``grace_s`` (a child such as vLLM's engine
        core may outlive the server for a moment); idempotent."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_s)


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
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{url}/health").status_code == 200:
                    return "healthy"
            time.sleep(interval_s)
    return "timeout"
