"""Issue 22: a document's own metadata (``SourceDocument.metadata``) reaches each result node's
``metadata``, beside the retriever's fields; ``MetadataFilters`` on it select the nodes."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores import MetadataFilter, MetadataFilters
from llama_index.retrievers.qwen3_rag import Qwen3RagRetriever

from qwen3_rag import Qwen3Embedder
from qwen3_rag.pipeline import Ingestor, QdrantStore, SourceDocument

pytestmark = pytest.mark.models  # every test here builds or loads a model


def test_nodes_carry_the_documents_metadata(tiny_embedding_path: str, tiny_reranker_path: str) -> None:
    store = QdrantStore("li-meta", location=":memory:")
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    docs = [
        SourceDocument("kb/1", "Rotate the API key in settings.", {"team": "ops", "year": 2024}),
        SourceDocument("kb/2", "Release notes for the key format.", {"team": "dev", "year": 2023}),
    ]
    Ingestor(store, embedder, progress=False).ingest_documents(docs)
    filters = MetadataFilters(filters=[MetadataFilter(key="team", value="dev")])
    retriever = Qwen3RagRetriever(
        store=store, embedding_model=embedder, reranker_model=tiny_reranker_path, filters=filters, top_n=5
    )
    nodes = retriever.retrieve("key")
    assert [n.node.metadata["source"] for n in nodes] == ["kb/2"]
    assert nodes[0].node.metadata["team"] == "dev" and nodes[0].node.metadata["year"] == 2023
