"""Fixtures for the core tests (the repository root's conftest.py holds the shared ones and the
`models` marker).

``tiny_tokenizers`` gives the tiny test checkpoints' tokenizers without building any model: the
fast unit layer (``tests/unit``) uses them to test the procedure, chunking and sparse vectors in
milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

# The one internal name the fast layer needs from qwen3_rag.testing: it writes only the tokenizer
# files of a tiny checkpoint (write_tiny_checkpoints would also build the models).
from qwen3_rag.testing import _write_tokenizer as write_tiny_tokenizer


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


@pytest.fixture(scope="session")
def tiny_embedder(tiny_embedding_path: str) -> Any:
    """The tiny embedding checkpoint loaded once for the session (CPU, float32); tests only use it."""
    from qwen3_rag import Qwen3Embedder

    return Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def tiny_reranker(tiny_reranker_path: str) -> Any:
    """The tiny reranker checkpoint loaded once for the session (CPU, float32); tests only use it."""
    from qwen3_rag import Qwen3Reranker

    return Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32")
