"""langchain-tests' ``VectorStoreIntegrationTests`` (sync and async) on ``Qwen3RagVectorStore``.

Run on both embedded engines: Qdrant Edge (a fresh folder per test) and qdrant-client's
``:memory:`` (the stand-in for a server: same client, same calls). The suite's own embeddings
(``DeterministicFakeEmbedding``, 6 dimensions) are what it tests with: the store takes any
``Embeddings`` and records that class as the collection's vector space.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_qwen3_rag import Qwen3RagVectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from qwen3_rag.pipeline import QdrantStore


# Each test makes an Edge collection (two shards, their thread pools, the payload indexes): the class
# takes tens of seconds, so the quick loop runs the suite on `:memory:` and the full suite on both.
@pytest.mark.slow
class TestOnQdrantEdge(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:
        with QdrantStore("standard", path=tmp_path / "qdrant") as store:
            assert store.engine.name == "qdrant-edge"
            yield Qwen3RagVectorStore(store, self.get_embeddings())


class TestOnQdrantClientMemory(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Iterator[VectorStore]:
        with QdrantStore("standard", location=":memory:") as store:
            assert store.engine.name == "qdrant-client"
            yield Qwen3RagVectorStore(store, self.get_embeddings())
