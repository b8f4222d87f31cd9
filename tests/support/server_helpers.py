"""Starting ``qwen3-rag serve`` as a real process on 127.0.0.1 for tests (loopback only)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.loopback import LoopbackProcess, free_port, wait_for_health

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0


@dataclass
class Server(LoopbackProcess):
    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


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
    health = wait_for_health(
        server.url, server.process, deadline=time.monotonic() + timeout_s, interval_s=0.1
    )
    if health == "exited":
        pytest.fail(f"server exited with {server.process.returncode}:\n{server.output()}")
    if health == "timeout":
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
