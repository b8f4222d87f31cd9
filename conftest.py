"""Fixtures shared by the core tests and every integration's tests.

Everything here is offline: the Hub is switched off for the whole session and the models are
tiny random-weight Qwen3 checkpoints written by ``qwen3_rag.testing`` once per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# dtype="auto" is bfloat16 on a CPU with native bf16 and float32 elsewhere: the suite runs as on a
# CPU without it, so "auto" is float32 on every machine and the fidelity tests compare float32
# with float32. A test opts in by patching qwen3_rag._runtime.cpu_features.has_native_bf16.
os.environ["QWEN3_RAG_CPU_BF16"] = "0"


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"embedding": folder, "reranker": folder}``: tiny Qwen3 checkpoints (appending tokenizer)."""
    from qwen3_rag.testing import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_embedding_path(tiny_checkpoints: dict[str, Path]) -> str:
    return str(tiny_checkpoints["embedding"])


@pytest.fixture(scope="session")
def tiny_reranker_path(tiny_checkpoints: dict[str, Path]) -> str:
    return str(tiny_checkpoints["reranker"])
