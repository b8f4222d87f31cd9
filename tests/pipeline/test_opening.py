"""One way to open a collection: the recorded model and size, the spec checked once."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen3_rag import (
    CollectionMismatchError,
    CollectionNotFoundError,
    ModelOptions,
    Qwen3Embedder,
    Qwen3Reranker,
)
from qwen3_rag.pipeline import Ingestor, QdrantStore, TwoStageRetriever, embedder_for_collection
from qwen3_rag.pipeline._opening import load_embedder_for
from qwen3_rag.testing import write_tiny_checkpoints


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, tiny_embedding_path: str) -> Path:
    """An embedded store whose collection ``kb`` was made at 32 Matryoshka dimensions."""
    root = tmp_path_factory.mktemp("opening")
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text("Paris is the capital of France.", encoding="utf-8")
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32", dimensions=32)
    with QdrantStore("kb", path=root / "qdrant") as store:
        Ingestor(store, embedder, progress=False).ingest([root / "docs"])
    return root / "qdrant"


def test_the_recorded_model_and_size_are_used(collection: Path, tiny_reranker_path: str) -> None:
    retriever = TwoStageRetriever.from_collection(
        "kb", qdrant_path=collection, reranker=tiny_reranker_path, device="cpu", top_n=1
    )
    assert retriever.embedder.dimensions == 32 and retriever.top_n == 1
    assert [r.text for r in retriever.retrieve("capital of France")] == ["Paris is the capital of France."]
    retriever.store.close()


def test_the_same_model_named_otherwise_keeps_the_recorded_size(
    collection: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    with QdrantStore("kb", path=collection) as store:
        retriever = TwoStageRetriever.from_collection(
            store, embedding_model=Path(tiny_embedding_path), reranker=tiny_reranker_path, device="cpu"
        )
        assert retriever.embedder.dimensions == 32


def test_another_model_is_refused_before_the_reranker_loads(collection: Path, tmp_path: Path) -> None:
    other = write_tiny_checkpoints(tmp_path / "other", seed=99)["embedding"]
    with QdrantStore("kb", path=collection) as store, pytest.raises(CollectionMismatchError, match="32"):
        TwoStageRetriever.from_collection(store, embedding_model=other, reranker="/nonexistent", device="cpu")


def test_missing_collection_or_store_fails_before_models_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(CollectionNotFoundError, match="no Qdrant store"):
        TwoStageRetriever.from_collection("kb", qdrant_path=tmp_path / "none", reranker="/nonexistent")
    assert not (tmp_path / "none").exists()
    with QdrantStore("other", location=":memory:") as store, pytest.raises(CollectionNotFoundError):
        TwoStageRetriever.from_collection(store, reranker="/nonexistent")


def test_loaded_models_are_used_as_given(
    collection: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32", dimensions=32)
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32")
    with QdrantStore("kb", path=collection) as store:
        retriever = TwoStageRetriever.from_collection(store, embedding_model=embedder, reranker=reranker)
        assert retriever.embedder is embedder and retriever.reranker is reranker


def test_a_new_collection_gets_the_given_or_default_size(tiny_embedding_path: str) -> None:
    assert load_embedder_for(None, tiny_embedding_path, options={"device": "cpu"}).dimensions == 64
    on_cpu = ModelOptions(device="cpu")  # the options value, as the framework retrievers pass it
    assert load_embedder_for(None, tiny_embedding_path, dimensions=48, options=on_cpu).dimensions == 48


def test_the_embedder_for_a_collection_is_its_recorded_model_and_size(
    collection: Path, tiny_embedding_path: str, tmp_path: Path
) -> None:
    """The public helper the examples ingest with: an existing collection's model at its size
    (named or not), another model at its full size, and a new collection the given size."""
    with QdrantStore("kb", path=collection) as store:
        recorded = embedder_for_collection(store, device="cpu")
        assert (Path(recorded.model_name), recorded.dimensions) == (Path(tiny_embedding_path), 32)
        assert embedder_for_collection(store, Path(tiny_embedding_path), device="cpu").dimensions == 32
        other = Path(write_tiny_checkpoints(tmp_path / "other", seed=99)["embedding"])
        other = other.rename(other.with_name("other-embedding"))  # another name: another model
        assert embedder_for_collection(store, other, device="cpu").dimensions == 64
    with QdrantStore("new", path=tmp_path / "fresh") as store:
        fresh = embedder_for_collection(store, tiny_embedding_path, dimensions=48, device="cpu")
        assert fresh.dimensions == 48
        assert not store.exists()  # nothing created by choosing the model
