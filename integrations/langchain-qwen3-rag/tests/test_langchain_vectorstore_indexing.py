"""LangChain's indexing API (``index()`` with a record manager) on ``Qwen3RagVectorStore``.

Real parts: the tiny Qwen3 embedding checkpoint, Qdrant Edge, LangChain's ``InMemoryRecordManager``.
A counting wrapper around the real embeddings tells how many texts each run embedded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import InMemoryRecordManager, aindex, index
from langchain_qwen3_rag import Qwen3Embeddings, Qwen3RagVectorStore

from qwen3_rag.pipeline import QdrantStore

pytestmark = pytest.mark.models  # every test here builds or loads a model


class CountingEmbeddings(Embeddings):
    """The real embeddings, counting the document texts they embed."""

    def __init__(self, inner: Qwen3Embeddings) -> None:
        self.inner = inner
        self.embedded: list[str] = []

    @property
    def embedder(self) -> Any:  # the store records the Qwen3 model's spec and uses its tokenizer
        return self.inner.embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return await self.inner.aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await self.inner.aembed_query(text)


def _docs(*texts: tuple[str, str]) -> list[Document]:
    return [Document(page_content=text, metadata={"source": name}) for name, text in texts]


# Three documents (pieces of two files); then a.md's second piece deleted and b.md's edited.
FIRST = _docs(
    ("a.md", "Rotate the API key monthly."),
    ("a.md", "Keys live in the vault."),
    ("b.md", "Bananas are yellow."),
)
SECOND = _docs(("a.md", "Rotate the API key monthly."), ("b.md", "Bananas are yellow when ripe."))


@pytest.fixture()
def counting(tiny_embedding_path: str) -> CountingEmbeddings:
    return CountingEmbeddings(Qwen3Embeddings(model=tiny_embedding_path))


def _stored(vectors: Qwen3RagVectorStore, store: QdrantStore) -> list[str]:
    """The texts in the collection, checked against its source registry (one record per document)."""
    docs = vectors.similarity_search("anything", k=10)
    assert sorted(r.source for r in store.sources.all()) == sorted(str(d.id) for d in docs)
    return sorted(doc.page_content for doc in docs)


@pytest.mark.parametrize("cleanup", ["incremental", "full"])
def test_index_rerun_reembeds_the_edited_document_and_removes_the_deleted_one(
    tmp_path: Path, counting: CountingEmbeddings, cleanup: Any
) -> None:
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        vectors = Qwen3RagVectorStore(store, counting)
        records = InMemoryRecordManager(namespace="kb")
        records.create_schema()

        first = index(FIRST, records, vectors, cleanup=cleanup, source_id_key="source", key_encoder="sha256")
        assert (first["num_added"], first["num_deleted"]) == (3, 0)
        assert sorted(counting.embedded) == sorted(d.page_content for d in FIRST)

        counting.embedded.clear()
        second = index(
            SECOND, records, vectors, cleanup=cleanup, source_id_key="source", key_encoder="sha256"
        )
        # added: the edited piece; skipped: the unchanged one; deleted: the deleted piece and the
        # edited piece's old version.
        assert (second["num_added"], second["num_skipped"], second["num_deleted"]) == (1, 1, 2)
        assert counting.embedded == ["Bananas are yellow when ripe."]  # exactly one re-embedded
        assert _stored(vectors, store) == sorted(d.page_content for d in SECOND)

        counting.embedded.clear()
        third = index(SECOND, records, vectors, cleanup=cleanup, source_id_key="source", key_encoder="sha256")
        assert (third["num_added"], third["num_skipped"], third["num_deleted"]) == (0, 2, 0)
        assert counting.embedded == []


def test_full_cleanup_removes_a_file_that_is_gone_and_incremental_keeps_it(
    tmp_path: Path, counting: CountingEmbeddings
) -> None:
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        vectors = Qwen3RagVectorStore(store, counting)
        records = InMemoryRecordManager(namespace="kb")
        records.create_schema()
        index(FIRST, records, vectors, cleanup="full", source_id_key="source", key_encoder="sha256")
        only_a = [d for d in FIRST if d.metadata["source"] == "a.md"]
        kept = index(
            only_a, records, vectors, cleanup="incremental", source_id_key="source", key_encoder="sha256"
        )
        assert kept["num_deleted"] == 0  # incremental: b.md was not looked at
        assert "Bananas are yellow." in _stored(vectors, store)
        gone = index(only_a, records, vectors, cleanup="full", source_id_key="source", key_encoder="sha256")
        assert gone["num_deleted"] == 1
        assert _stored(vectors, store) == sorted(d.page_content for d in only_a)


async def test_aindex_rerun_reembeds_one_and_removes_one(
    tmp_path: Path, counting: CountingEmbeddings
) -> None:
    with QdrantStore("kb", location=":memory:") as store:
        vectors = Qwen3RagVectorStore(store, counting)
        records = InMemoryRecordManager(namespace="kb")
        await records.acreate_schema()
        await aindex(
            FIRST, records, vectors, cleanup="incremental", source_id_key="source", key_encoder="sha256"
        )
        counting.embedded.clear()
        second = await aindex(
            SECOND, records, vectors, cleanup="incremental", source_id_key="source", key_encoder="sha256"
        )
        assert (second["num_added"], second["num_skipped"], second["num_deleted"]) == (1, 1, 2)
        assert counting.embedded == ["Bananas are yellow when ripe."]
        assert _stored(vectors, store) == sorted(d.page_content for d in SECOND)
