"""Issue 22: a document's own metadata (``SourceDocument.metadata``) reaches the LangChain
``Document.metadata`` of each result, beside the retriever's fields; filters and tenants apply."""

from __future__ import annotations

import pytest
from langchain_qwen3_rag.retrievers import Qwen3RagRetriever

from qwen3_rag import Qwen3Embedder
from qwen3_rag.pipeline import Ingestor, QdrantStore, SourceDocument

pytestmark = pytest.mark.models  # every test here builds or loads a model


def test_results_carry_the_documents_metadata(tiny_embedding_path: str, tiny_reranker_path: str) -> None:
    store = QdrantStore("lc-meta", location=":memory:")
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    docs = [
        SourceDocument("kb/1", "Rotate the API key in settings.", {"team": "ops", "url": "https://x/1"}),
        SourceDocument("kb/2", "Release notes for the key format.", {"team": "dev", "source": "ignored"}),
    ]
    Ingestor(store, embedder, progress=False).ingest_documents(docs)
    retriever = Qwen3RagRetriever(
        store=store, embedding_model=embedder, reranker_model=tiny_reranker_path, k=5
    )
    found = retriever.invoke("key", filters={"team": "ops"})
    assert [d.metadata["source"] for d in found] == ["kb/1"]
    assert found[0].metadata["team"] == "ops" and found[0].metadata["url"] == "https://x/1"
    both = {d.metadata["source"]: d.metadata for d in retriever.invoke("key")}
    assert both["kb/2"]["team"] == "dev"  # our source wins a name clash with the document's own
