"""One layout for ``Qwen3RagVectorStore`` and ``qwen3-rag ingest``: each reads what the other wrote,
the two-stage retriever reranks over what the store wrote, and another model's vectors are refused.

Real parts: the tiny Qwen3 checkpoints, Qdrant Edge folders, the ``qwen3-rag`` CLI in process.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_qwen3_rag import Qwen3Embeddings, Qwen3RagRetriever, Qwen3RagVectorStore

from qwen3_rag import CollectionMismatchError, InvalidOptionError
from qwen3_rag._cli import main
from qwen3_rag.pipeline import QdrantStore

pytestmark = pytest.mark.models  # every test here builds or loads a model

DOCS = [
    Document(
        id="kb/rotate", page_content="Rotate the API key every month.", metadata={"team": "ops", "year": 2024}
    ),
    Document(id="kb/fruit", page_content="Bananas are yellow.", metadata={"team": "misc", "year": 2019}),
]


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, stdout=out, stdin=io.StringIO("")), out.getvalue()


@pytest.fixture()
def embeddings(tiny_embedding_path: str) -> Qwen3Embeddings:
    return Qwen3Embeddings(model=tiny_embedding_path)


def test_cli_reads_what_the_store_wrote(
    tmp_path: Path, embeddings: Qwen3Embeddings, tiny_reranker_path: str
) -> None:
    folder = tmp_path / "qdrant"
    with QdrantStore("kb", path=folder) as store:
        Qwen3RagVectorStore(store, embeddings).add_documents(DOCS)
    where = ["--qdrant-path", str(folder), "--collection", "kb"]
    code, out = run(["sources", *where])
    assert code == 0 and "kb/rotate" in out and "kb/fruit" in out, out
    code, out = run(
        ["query", "API key", "--json", "--reranker-model", tiny_reranker_path, "--no-progress", *where]
    )
    assert code == 0, out
    results = json.loads(out)["results"]
    assert {r["source"] for r in results} == {"kb/rotate", "kb/fruit"}
    assert {r["text"] for r in results} == {d.page_content for d in DOCS}


def test_store_reads_what_ingest_wrote(
    tmp_path: Path, embeddings: Qwen3Embeddings, tiny_embedding_path: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ops.md").write_text("# Keys\nRotate the API key every month.", encoding="utf-8")
    (docs / "fruit.txt").write_text("Bananas are yellow.", encoding="utf-8")
    folder = tmp_path / "qdrant"
    where = ["--qdrant-path", str(folder), "--collection", "kb"]
    code, out = run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, "--no-progress", *where])
    assert code == 0, out
    ops = str((docs / "ops.md").resolve())
    with QdrantStore("kb", path=folder) as store:
        vectors = Qwen3RagVectorStore(store, embeddings, retrieval_mode="hybrid")
        found = vectors.similarity_search("API key", k=5)
        assert {d.id for d in found} == {ops, str((docs / "fruit.txt").resolve())}
        chunk = next(d for d in found if d.id == ops)
        assert chunk.metadata == {"source": ops, "chunk_index": 0, "headings": ["Keys"]}
        assert vectors.get_by_ids([ops]) == [
            Document(id=ops, page_content=chunk.page_content, metadata=chunk.metadata)
        ]
        vectors.delete([ops])
    code, out = run(["sources", *where])
    assert code == 0 and "fruit.txt" in out and "ops.md" not in out


def test_two_stage_retriever_reranks_over_the_store(
    tmp_path: Path, embeddings: Qwen3Embeddings, tiny_reranker_path: str
) -> None:
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        Qwen3RagVectorStore(store, embeddings).add_documents(DOCS)
        retriever = Qwen3RagRetriever(
            store=store, embedding_model=embeddings.embedder, reranker_model=tiny_reranker_path, k=2, top_k=10
        )
        found = retriever.invoke("How do I rotate the API key?")
        assert {d.page_content for d in found} == {d.page_content for d in DOCS}
        assert {d.metadata["source"] for d in found} == {"kb/rotate", "kb/fruit"}
        scores = [d.metadata["relevance_score"] for d in found]
        assert scores == sorted(scores, reverse=True)


def test_another_models_vectors_are_refused(tmp_path: Path, embeddings: Qwen3Embeddings) -> None:
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        Qwen3RagVectorStore(store, embeddings).add_documents(DOCS)
        fake = Qwen3RagVectorStore(store, DeterministicFakeEmbedding(size=embeddings.dimensions or 0))
        with pytest.raises(CollectionMismatchError, match="DeterministicFakeEmbedding"):
            fake.add_documents([Document(page_content="x")])
        with pytest.raises(CollectionMismatchError):
            fake.similarity_search("x")
    with pytest.raises(InvalidOptionError, match="hybrid"):
        Qwen3RagVectorStore(store, DeterministicFakeEmbedding(size=6), retrieval_mode="hybrid")
