"""Fixtures for the core tests (the repository root's conftest.py holds the shared ones and the
`models` marker).

``tiny_tokenizers`` gives the tiny test checkpoints' tokenizers without building any model: the
tests of the procedure, chunking and sparse vectors use them without the ``models`` marker, in
milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# Only the tokenizer files of a tiny checkpoint (write_tiny_checkpoints would also build the models).
from qwen3_rag.testing import write_tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{"embedding": tokenizer, "reranker": tokenizer}``: the tiny checkpoints' tokenizers, loaded
    as the runtime loads them (the embedding one appends ``<|endoftext|>``, the reranker one not)."""
    from transformers import AutoTokenizer

    root = tmp_path_factory.mktemp("tiny-tokenizers")
    tokenizers = {}
    for kind, appends_eos in (("embedding", True), ("reranker", False)):
        folder = Path(root, kind)
        write_tiny_tokenizer(folder, 512, appends_eos)
        tokenizers[kind] = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    return tokenizers


@pytest.fixture
def flags(tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str) -> list[str]:
    """CLI flags for a store in this test's folder, collection ``kb``, the tiny reranker on the CPU
    (each command adds its own ``--embedding-model``)."""
    return [
        "--qdrant-path",
        str(tmp_path / "qdrant"),
        "--collection",
        "kb",
        "--reranker-model",
        tiny_reranker_path,
        "--device",
        "cpu",
        "--no-progress",
    ]
