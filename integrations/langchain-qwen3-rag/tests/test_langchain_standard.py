"""The langchain-tests standard suites for embeddings, run on the tiny test checkpoint.

The suites build one ``Qwen3Embeddings`` per test from ``embedding_model_params``; the model
path comes from the session fixture ``tiny_embedding_path`` (root conftest.py), so every
instance after the first reuses the loaded model.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_qwen3_rag import Qwen3Embeddings
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

pytestmark = pytest.mark.models  # every test here builds or loads a model


class _TinyModel:
    _model_path: str = ""

    @pytest.fixture(autouse=True)
    def _tiny_model(self, tiny_embedding_path: str) -> None:
        type(self)._model_path = tiny_embedding_path

    @property
    def embeddings_class(self) -> type[Qwen3Embeddings]:
        return Qwen3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        assert self._model_path, "the tiny_embedding_path fixture did not run"
        return {"model": self._model_path}


class TestQwen3EmbeddingsStandardUnit(_TinyModel, EmbeddingsUnitTests):
    pass


class TestQwen3EmbeddingsStandardIntegration(_TinyModel, EmbeddingsIntegrationTests):
    pass
