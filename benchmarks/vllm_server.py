"""Start a vLLM (CPU) OpenAI-compatible server for a Qwen3 embedding or reranker folder.

The one place that knows the vLLM command lines verified here (docs/deployment.md prints them;
tests/runtime/test_vllm.py and the serving benchmark run them): the embedding model as ``Qwen3ForCausalLM``
(a saved ``Qwen3Model`` is not in vLLM's registry) with ``is_matryoshka`` (``dimensions``),
last-token pooling, normalised; the reranker as ``Qwen3ForSequenceClassification`` built from the
causal LM's "no"/"yes" rows, the client sending the official template cut where vLLM joins query
and document. vLLM lives in ``.venv-vllm`` (``bash .ci/setup-vllm``) and only runs as a process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from qwen3_rag import _prompts
from qwen3_rag._environment import QWEN3_RAG_VLLM_VENV

from .common import ROOT
from .loopback import LoopbackProcess, child_env, free_port, launch

COMMON_FLAGS = ["--runner", "pooling", "--max-model-len", "4096", "--enforce-eager"]
VLLM_EMBED = {"architectures": ["Qwen3ForCausalLM"], "is_matryoshka": True}
EMBEDDING_FLAGS = ["--convert", "embed", "--hf-overrides", json.dumps(VLLM_EMBED)]
EMBEDDING_FLAGS += ["--pooler-config", json.dumps({"pooling_type": "LAST", "use_activation": True})]
VLLM_RERANK = {"architectures": ["Qwen3ForSequenceClassification"], "classifier_from_token": ["no", "yes"]}
RERANKER_FLAGS = ["--hf-overrides", json.dumps({**VLLM_RERANK, "is_original_qwen3_reranker": True})]


def vllm_venv() -> Path:
    """``.venv-vllm``, or where ``$QWEN3_RAG_VLLM_VENV`` says."""
    return Path(QWEN3_RAG_VLLM_VENV.get() or ROOT / ".venv-vllm")


def vllm_python() -> Path | None:
    """The vLLM environment's interpreter, or ``None`` when it was not built."""
    python = vllm_venv() / "bin" / "python"
    return python if python.is_file() and os.access(python, os.X_OK) else None


def rerank_halves(query: str, document: str) -> tuple[str, str]:
    """The official reranker prompt cut where vLLM joins a query and a document."""
    query_part = _prompts.format_rerank_query_part(query, _prompts.DEFAULT_QUERY_INSTRUCTION)
    return _prompts.RERANKER_PREFIX + query_part, f"<Document>: {document}{_prompts.RERANKER_SUFFIX}"


@dataclass
class VllmServer(LoopbackProcess):
    kind: str  # "embedding" or "reranker"
    served_name: str


def start_vllm(
    kind: str,
    model: str | os.PathLike[str],
    *,
    log_dir: str | os.PathLike[str],
    served_name: str | None = None,
    dtype: str = "float32",
) -> VllmServer:
    """Start vLLM serving ``model`` on a free 127.0.0.1 port; does not wait (``wait_healthy``)."""
    python = vllm_python()
    if python is None:
        raise FileNotFoundError(f"No vLLM environment at {vllm_venv()}: build it with `bash .ci/setup-vllm`.")
    port, name = free_port(), served_name or f"qwen3-{kind}"
    log = Path(log_dir) / f"vllm-{kind}-{port}.log"
    command = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model), *COMMON_FLAGS]
    command += ["--dtype", dtype, "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port)]
    command += EMBEDDING_FLAGS if kind == "embedding" else RERANKER_FLAGS
    log.parent.mkdir(parents=True, exist_ok=True)
    env = child_env(foreign=True) | {"VLLM_CPU_KVCACHE_SPACE": "1"}  # GiB of KV cache: pooling needs little
    return VllmServer(launch(command, log, env, log.parent), port, log, kind, name)
