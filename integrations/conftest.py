"""Fixtures every adapter package's tests may ask for (the root conftest has the models)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import QdrantStore
from tests.support.corpus import load_tiny_models


@pytest.fixture(params=["edge", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QdrantStore]:
    """An empty collection "kb" on Qdrant Edge, then on qdrant-client's ``:memory:`` mode; a test
    module with a ``store`` fixture of its own (a filled collection) uses that instead."""
    options: dict[str, Any] = (
        {"path": tmp_path / "qdrant"} if request.param == "edge" else {"location": ":memory:"}
    )
    with QdrantStore("kb", **options) as opened:
        yield opened


@pytest.fixture(scope="module")
def models_(tiny_embedding_path: str, tiny_reranker_path: str) -> tuple[Qwen3Embedder, Qwen3Reranker]:
    """The tiny embedder at 32 dimensions (MRL) and the tiny reranker, float32 on the CPU (the
    trailing underscore: the interop tests import qdrant_client's `models`)."""
    return load_tiny_models(tiny_embedding_path, tiny_reranker_path, dimensions=32)
