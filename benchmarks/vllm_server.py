"""Start and stop a vLLM (CPU) OpenAI-compatible server for a Qwen3 embedding or reranker folder.

The one place that knows the vLLM command lines verified here (docs/deployment.md prints them;
tests/runtime/test_vllm.py and benchmarks/serving.py use them). vLLM lives in its own virtual
environment (``bash .ci/setup-vllm`` builds ``.venv-vllm``; ``$QWEN3_RAG_VLLM_VENV`` points
elsewhere) and is only ever run as a separate process, so nothing here imports it.

- Embedding: ``--runner pooling --convert embed`` with the architecture overridden to
  ``Qwen3ForCausalLM`` (a saved ``Qwen3Model`` is not in vLLM's registry) and
  ``is_matryoshka`` (enables the ``dimensions`` request field), last-token pooling, normalised.
- Reranker: ``Qwen3ForSequenceClassification`` built from the causal LM's "no"/"yes" rows
  (``classifier_from_token`` + ``is_original_qwen3_reranker``); the client sends the official
  template pieces (``/rerank``, ``/v1/rerank``, ``/score``).

The server starts in its own process group and :meth:`VllmServer.stop` ends the whole group
(vLLM's engine core is a child process), first with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from qwen3_rag._environment import QWEN3_RAG_VLLM_VENV

from .loopback import LoopbackUrls, free_port, wait_for_health

ROOT = Path(__file__).resolve().parent.parent
Kind = Literal["embedding", "reranker"]

EMBEDDING_FLAGS = [
    "--runner",
    "pooling",
    "--convert",
    "embed",
    "--hf-overrides",
    json.dumps({"architectures": ["Qwen3ForCausalLM"], "is_matryoshka": True}),
    "--pooler-config",
    json.dumps({"pooling_type": "LAST", "use_activation": True}),
]
RERANKER_FLAGS = [
    "--runner",
    "pooling",
    "--hf-overrides",
    json.dumps(
        {
            "architectures": ["Qwen3ForSequenceClassification"],
            "classifier_from_token": ["no", "yes"],
            "is_original_qwen3_reranker": True,
        }
    ),
]
COMMON_FLAGS = ["--dtype", "float32", "--max-model-len", "4096", "--enforce-eager"]
DEFAULT_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1"}
"""GiB of KV cache vLLM's CPU backend reserves (pooling models keep no cache between requests)."""


def vllm_venv() -> Path:
    return Path(QWEN3_RAG_VLLM_VENV.get() or ROOT / ".venv-vllm")


def vllm_python() -> Path | None:
    """The vLLM environment's interpreter, or ``None`` when it was not built."""
    python = vllm_venv() / "bin" / "python"
    return python if python.is_file() and os.access(python, os.X_OK) else None


def vllm_command(
    kind: Kind,
    model: str | os.PathLike[str],
    *,
    served_name: str,
    port: int,
    python: str | os.PathLike[str] = "python",
    host: str = "127.0.0.1",
    extra: list[str] | None = None,
) -> list[str]:
    """The argv that serves ``model`` as a Qwen3 ``kind`` (the flags above)."""
    flags = EMBEDDING_FLAGS if kind == "embedding" else RERANKER_FLAGS
    return [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        served_name,
        *COMMON_FLAGS,
        "--host",
        host,
        "--port",
        str(port),
        *flags,
        *(extra or []),
    ]


@dataclass
class VllmServer(LoopbackUrls):
    kind: Kind
    served_name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.monotonic)
    startup_s: float | None = None

    def output(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout_s: float = 240.0) -> float:
        """Block until ``GET /health`` answers 200; returns the start-up seconds."""
        health = wait_for_health(
            self.url, self.process, deadline=self.started_at + timeout_s, interval_s=0.25
        )
        if health == "exited":
            raise RuntimeError(
                f"vLLM ({self.kind}) exited with {self.process.returncode} before it was healthy:\n"
                f"{self.output()}"
            )
        if health == "timeout":
            raise TimeoutError(f"vLLM ({self.kind}) not healthy after {timeout_s:.0f} s:\n{self.output()}")
        self.startup_s = time.monotonic() - self.started_at
        return self.startup_s

    def stop(self, grace_s: float = 15.0) -> None:
        """End the server and its engine process (the whole process group); idempotent."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace_s)
        # The engine core may outlive the API process for a moment: end the group either way.
        self._signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL ends it; never hang here
            self.process.wait(timeout=30)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


def start_vllm(
    kind: Kind,
    model: str | os.PathLike[str],
    *,
    log_dir: str | os.PathLike[str],
    served_name: str | None = None,
    port: int | None = None,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> VllmServer:
    """Start vLLM serving ``model`` on 127.0.0.1 (a free port unless given); does not wait."""
    python = vllm_python()
    if python is None:
        raise FileNotFoundError(
            f"No vLLM environment at {vllm_venv()}: build it with `bash .ci/setup-vllm` "
            "(or point $QWEN3_RAG_VLLM_VENV at one)."
        )
    port = port or free_port()
    name = served_name or f"qwen3-{kind}"
    command = vllm_command(kind, model, served_name=name, port=port, python=python, extra=extra)
    log = Path(log_dir) / f"vllm-{kind}-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    child_env = {
        **os.environ,
        **DEFAULT_ENV,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
    }
    # The main environment's settings must not leak into vLLM's interpreter.
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        child_env.pop(key, None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=str(log.parent),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_env,
            start_new_session=True,
        )
    return VllmServer(kind, name, port, process, log, command)
