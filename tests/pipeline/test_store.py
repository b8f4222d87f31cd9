"""The Qdrant store: embedded or server by one setting, collection metadata, clear errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from qwen3_rag import CollectionMismatchError, CollectionNotFoundError, StoreConnectionError
from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore
from qwen3_rag.pipeline._store import model_identity


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_collection_records_model_and_dimensions(tmp_path: Path) -> None:
    spec = EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 1024)
    with QdrantStore("docs", path=tmp_path / "q") as store:
        store.ensure(spec)
    with QdrantStore("docs", path=tmp_path / "q") as store:  # persisted across clients
        assert store.read_spec() == spec
        assert store.open() == spec
        # The same model by another spelling (a local folder of it) is the same vector space.
        assert store.open(EmbeddingSpec("/models/Qwen3-Embedding-0.6B/", 1024)) == spec


@pytest.mark.parametrize(
    "other", [EmbeddingSpec("Qwen/Qwen3-Embedding-4B", 1024), EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 256)]
)
def test_another_model_or_dimension_is_a_mismatch_error(other: EmbeddingSpec) -> None:
    store = QdrantStore("docs", location=":memory:")
    store.ensure(EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 1024))
    fix = r"embedding_model='Qwen/Qwen3-Embedding-0\.6B' \(and dimensions=1024\)"  # parameters, not flags
    for call in (store.open, store.ensure):
        with pytest.raises(CollectionMismatchError, match=fix) as info:
            call(other)
        assert info.value.expected == other
        assert info.value.found == EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 1024)


def test_missing_collection_is_not_found_error() -> None:
    store = QdrantStore("nothing", path=":memory:")
    with pytest.raises(CollectionNotFoundError, match="qwen3-rag ingest"):
        store.open()


def test_model_identity_ignores_owner_folder_and_hub_cache_layout() -> None:
    assert model_identity("Qwen/Qwen3-Embedding-0.6B") == "qwen3-embedding-0.6b"
    cached = "/root/.cache/huggingface/hub/models--Qwen--Qwen3-Embedding-0.6B/snapshots/0123abc"
    assert model_identity(cached) == "qwen3-embedding-0.6b"


def test_locked_embedded_folder_is_a_connection_error(tmp_path: Path) -> None:
    with QdrantStore("docs", path=tmp_path / "q"), pytest.raises(StoreConnectionError, match="qdrant_url="):
        QdrantStore("docs", path=tmp_path / "q")


def test_unreachable_server_is_a_connection_error() -> None:
    with pytest.raises(StoreConnectionError, match="Could not reach"):
        QdrantStore("docs", url=f"http://127.0.0.1:{_closed_port()}", timeout=2)


def test_qdrant_url_environment_variable_picks_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("QDRANT_URL", url)
    with pytest.raises(StoreConnectionError, match=url):
        QdrantStore("docs")


def test_default_is_the_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with QdrantStore("docs") as store:
        store.ensure(EmbeddingSpec("m", 32))
    assert (tmp_path / ".qwen3-rag" / "qdrant").is_dir()


@pytest.mark.qdrant_server
@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="needs a Qdrant server at QDRANT_URL")
def test_server_round_trip_same_code_path() -> None:
    import uuid

    name = f"qwen3_rag_test_{uuid.uuid4().hex[:8]}"
    store = QdrantStore(name)
    try:
        spec = EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 32)
        store.ensure(spec)
        assert store.open(spec).dimensions == 32
        with pytest.raises(CollectionMismatchError):
            store.open(EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 64))
    finally:
        store.client.delete_collection(name)
        store.close()


@pytest.mark.models
def test_two_models_in_same_named_folders_are_told_apart_by_their_weights(tmp_path: Path) -> None:
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.testing import write_tiny_checkpoints

    first = Qwen3Embedder.load(str(write_tiny_checkpoints(tmp_path / "a", seed=31)["embedding"]))
    second = Qwen3Embedder.load(str(write_tiny_checkpoints(tmp_path / "b", seed=32)["embedding"]))
    assert model_identity(first.model_name) == model_identity(second.model_name)  # both ".../embedding"
    store = QdrantStore("docs", location=":memory:")
    store.ensure(EmbeddingSpec.for_embedder(first))
    assert store.open(EmbeddingSpec.for_embedder(first)).fingerprint == first.fingerprint
    with pytest.raises(CollectionMismatchError, match="weights"):
        store.open(EmbeddingSpec.for_embedder(second))
    first.close()
    second.close()


class _ServerClient:
    """Stands in for a ``QdrantClient`` connected to a server (none can run here): calls go to a
    real in-memory client, payload-index requests are recorded."""

    def __init__(self) -> None:
        from qdrant_client import QdrantClient

        self._real = QdrantClient(":memory:")
        self._client = object()  # not QdrantLocal: what a server connection looks like
        self.indexes: list[str] = []

    def create_payload_index(self, collection: str, field: str, schema: object) -> None:
        self.indexes.append(field)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def test_server_or_embedded_is_decided_when_the_client_is_made(tmp_path: Path) -> None:
    """A folder named like a server is embedded; a server client passed in gets its indexes."""
    with QdrantStore("t", path=tmp_path / "my-qdrant-server-data") as store:
        assert not store.is_server
        store.ensure(EmbeddingSpec("m", 32))
    from qdrant_client import QdrantClient

    assert not QdrantStore("t", client=QdrantClient(":memory:")).is_server
    server = _ServerClient()
    store = QdrantStore("t", client=server)
    assert store.is_server
    store.ensure(EmbeddingSpec("m", 32))
    assert server.indexes == ["source", "chunk_index"]


@pytest.mark.slow
def test_an_unclosed_embedded_store_exits_quietly(tmp_path: Path) -> None:
    """A store nobody closed (and one closed twice) leaves nothing on stderr at interpreter exit."""
    import subprocess
    import sys

    first, second = str(tmp_path / "q1"), str(tmp_path / "q2")
    code = (
        "from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore\n"
        f"closed = QdrantStore('a', path={first!r})\n"
        "closed.ensure(EmbeddingSpec('m', 32)); closed.close()\n"
        f"left_open = QdrantStore('a', path={second!r})\n"
        "left_open.ensure(EmbeddingSpec('m', 32))\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and child.stderr == "", child.stderr
