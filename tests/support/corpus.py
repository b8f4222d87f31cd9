"""A folder of small text files ingested into an in-memory store: the retriever and adapter tests' corpus."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import Ingestor, QdrantStore


def ingest_docs(root: Path, docs: Mapping[str, str], embedder: Qwen3Embedder, collection: str) -> QdrantStore:
    """Write ``docs`` (file name -> text) into ``root`` and ingest them into ``collection`` of a new
    ``:memory:`` store."""
    for name, text in docs.items():
        (root / name).write_text(text, encoding="utf-8")
    store = QdrantStore(collection, location=":memory:")
    Ingestor(store, embedder, progress=False).ingest([root])
    return store


def load_tiny_models(
    embedding_path: str, reranker_path: str, *, dimensions: int | None = None
) -> tuple[Qwen3Embedder, Qwen3Reranker]:
    """The tiny embedder (at ``dimensions``, MRL) and reranker, float32 on the CPU."""
    return (
        Qwen3Embedder.load(embedding_path, device="cpu", dtype="float32", dimensions=dimensions),
        Qwen3Reranker.load(reranker_path, device="cpu", dtype="float32"),
    )
