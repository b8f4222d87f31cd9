"""Starting ``qwen3-rag serve`` as a real process on 127.0.0.1 for tests (loopback only)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``Qwen3Embedder.load(..., base_url=...)`` takes."""
        return f"{self.url}/v1"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("QWEN3_RAG_API_KEY", None)
    return {**env, **extra}


def start_server(
    name: str, args: list[str], tmp: Path, env: Mapping[str, str], *, port: int | None = None
) -> Server:
    """``python -m qwen3_rag.server`` on CPU in float32 (no progress bars), output to a log file."""
    port = port or free_port()
    log = tmp / f"{name}.log"
    command = [sys.executable, "-m", "qwen3_rag.server", "--port", str(port), "--device", "cpu"]
    command += ["--dtype", "float32", "--no-progress", *args]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(env))
    return Server(process, port, log)


def wait_healthy(server: Server, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"server exited with {server.process.returncode}:\n{server.output()}")
            try:
                if client.get(f"{server.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"server not healthy after {timeout_s} s:\n{server.output()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait(timeout=30)


@contextmanager
def serving(name: str, args: list[str], tmp: Path, env: Mapping[str, str]) -> Iterator[Server]:
    """A started, healthy server for the ``with`` block (a module fixture's usual shape), then killed."""
    server = start_server(name, args, tmp, env)
    try:
        wait_healthy(server)
        yield server
    finally:
        stop_server(server)
