"""Every environment variable qwen3-rag reads, in one place (as vLLM's ``envs.py`` and infinity's
``env.py`` keep theirs): its name, its type and default (the parser), who reads it, what it does.

A variable is read when its value is used (``QWEN3_RAG_SERVER.get()``), never at import, so a test
that monkeypatches the environment, or a process that sets a variable before loading a model, is
seen. Writers (the test configuration, the benchmarks) set ``os.environ[VARIABLE.name]``. The
README's "Environment variables" table lists exactly :data:`VARIABLES` (tests check it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Variable(Generic[T]):
    """One environment variable: ``parse`` turns its raw value (``None`` when unset) into ``T``."""

    name: str
    read_by: str
    meaning: str
    parse: Callable[[str | None], T]

    def get(self) -> T:
        return self.parse(os.environ.get(self.name))


def _text(raw: str | None) -> str | None:
    """Set and not empty, else ``None`` (an empty value means unset)."""
    return raw or None


def _raw(raw: str | None) -> str | None:
    return raw


def _lowered(raw: str | None) -> str:
    return (raw or "").strip().lower()


def _bench_cache(raw: str | None) -> str:
    return raw if raw is not None else str(Path(tempfile.gettempdir()) / "qwen3-rag-bench")


QWEN3_RAG_SERVER = Variable(
    "QWEN3_RAG_SERVER",
    "`ingest`, `query`, `chat`, `eval`",
    "The default of `--server`: a running `qwen3-rag serve` for both models.",
    _text,
)
QWEN3_RAG_API_KEY = Variable(
    "QWEN3_RAG_API_KEY",
    "`qwen3-rag serve`; remote models (`base_url=`, `--embedding-url`) and the adapters",
    "The server's API key, sent by clients as a bearer token (default of `--api-key` and `api_key=`).",
    _text,
)
QWEN3_RAG_PREFIX_CACHE = Variable(
    "QWEN3_RAG_PREFIX_CACHE",
    "the local reranker, when it is loaded",
    "`0` turns the reranker's shared-prefix cache off; anything else, or unset, leaves it on.",
    lambda raw: raw != "0",
)
QWEN3_RAG_CPU_DTYPE = Variable(
    "QWEN3_RAG_CPU_DTYPE",
    '`dtype="auto"` on CPU, when a model is loaded',
    "`float32`, `float32-onednn` or `bfloat16` forces that kernel instead of measuring; unset (or "
    "`measure`) measures once per machine.",
    _lowered,
)
QWEN3_RAG_CACHE_DIR = Variable(
    "QWEN3_RAG_CACHE_DIR",
    '`dtype="auto"` on CPU',
    "Where the measured decision is kept (default `$XDG_CACHE_HOME/qwen3-rag`, else `~/.cache/qwen3-rag`).",
    _text,
)
QWEN3_RAG_PACKED_LINEAR = Variable(
    "QWEN3_RAG_PACKED_LINEAR",
    'a local model loaded with an explicit `dtype="float32"` on CPU',
    "`1` gives it the oneDNN float32 kernel. Off by default.",
    lambda raw: raw == "1",
)
QWEN3_RAG_VLLM = Variable(
    "QWEN3_RAG_VLLM",
    "the tests",
    "`1` runs the opt-in vLLM tests, as `-m vllm` does.",
    lambda raw: _lowered(raw) in {"1", "true", "yes"},
)
QWEN3_RAG_VLLM_VENV = Variable(
    "QWEN3_RAG_VLLM_VENV",
    "the vLLM tests and benchmarks",
    "The vLLM environment (default `.venv-vllm`, from `bash .ci/setup-vllm`).",
    _text,
)
QWEN3_RAG_BENCH_CACHE = Variable(
    "QWEN3_RAG_BENCH_CACHE",
    "the benchmarks",
    "Where they keep their checkpoints (default `$TMPDIR/qwen3-rag-bench`).",
    _bench_cache,
)
QDRANT_URL = Variable(
    "QDRANT_URL",
    "the store (`QdrantStore`, the commands), when no path or URL is given",
    "The Qdrant server to use instead of the embedded folder.",
    _text,
)
QDRANT_API_KEY = Variable(
    "QDRANT_API_KEY",
    "the store, for a Qdrant server",
    "The Qdrant server's API key (default of `api_key=`).",
    _text,
)
OPENAI_API_KEY = Variable(
    "OPENAI_API_KEY",
    "`qwen3-rag chat --llm-url`",
    "Sent as a bearer token to the chat model's endpoint.",
    _raw,
)

VARIABLES: tuple[Variable[Any], ...] = (
    QWEN3_RAG_SERVER,
    QWEN3_RAG_API_KEY,
    QWEN3_RAG_PREFIX_CACHE,
    QWEN3_RAG_CPU_DTYPE,
    QWEN3_RAG_CACHE_DIR,
    QWEN3_RAG_PACKED_LINEAR,
    QWEN3_RAG_VLLM,
    QWEN3_RAG_VLLM_VENV,
    QWEN3_RAG_BENCH_CACHE,
    QDRANT_URL,
    QDRANT_API_KEY,
    OPENAI_API_KEY,
)
