"""The Qdrant store with hand-made vectors (fast layer): the collection layout, writing, querying,
deleting, the source registry, the recorded vector space, and damaged or missing embedded folders.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from qwen3_rag import CollectionMismatchError, CollectionNotFoundError, StoreDamagedError
from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore, build_filter

# Internal names, kept in one place.
from qwen3_rag.pipeline._layout import chunk_payload, point_id
from qwen3_rag.pipeline._pruning import missing_sources, remove_sources, sources_under
from qwen3_rag.pipeline._sources import SourceRecord
from tests.support.store_copies import StoreFolders

SPEC = EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 4, fingerprint="abc123")

# Four chunks of two sources; each dense vector points along one axis.
CHUNKS = [
    ("/docs/a.md", 0, "alpha one", [1.0, 0.0, 0.0, 0.0]),
    ("/docs/a.md", 1, "alpha two", [0.0, 1.0, 0.0, 0.0]),
    ("/docs/a.md", 2, "alpha three", [0.0, 0.0, 1.0, 0.0]),
    ("/docs/sub/b.md", 0, "beta one", [0.0, 0.0, 0.0, 1.0]),
]


def sparse(*indices: int) -> models.SparseVector:
    return models.SparseVector(indices=list(indices), values=[1.0] * len(indices))


def write(store: QdrantStore, chunks: list[tuple[str, int, str, list[float]]] = CHUNKS) -> None:
    store.upsert_chunks(
        [point_id(source, index) for source, index, _, _ in chunks],
        [chunk_payload(source, index, text) for source, index, text, _ in chunks],
        [vector for *_, vector in chunks],
        [sparse(10 + i) for i in range(len(chunks))],
    )


ENGINES = ["edge", "local", "memory"]
"""Qdrant Edge (embedded folders), qdrant-client's local mode (older folders) and ``:memory:``."""


def _build_filled(kind: str, folder: Path) -> None:
    with QdrantStore("docs", path=folder, engine=kind) as store:
        store.ensure(SPEC)
        write(store)


@pytest.fixture(scope="module")
def filled_folders(tmp_path_factory: pytest.TempPathFactory) -> StoreFolders:
    return StoreFolders(tmp_path_factory.mktemp("filled"), _build_filled)


@pytest.fixture(params=ENGINES)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, filled_folders: StoreFolders
) -> Iterator[QdrantStore]:
    """The four chunks of ``CHUNKS`` on each engine; an embedded folder is a copy of one written once."""
    if request.param == "memory":
        with QdrantStore("docs", location=":memory:") as store:
            store.ensure(SPEC)
            write(store)
            yield store
        return
    folder = filled_folders.copy(request.param, tmp_path / f"q-{request.param}")
    with QdrantStore("docs", path=folder, engine=request.param) as store:
        yield store


# ----------------------------------------------------------------------------- layout
def test_a_new_collection_has_the_dense_and_sparse_vectors_and_a_registry() -> None:
    store = QdrantStore("fresh", location=":memory:")
    assert not store.exists()
    assert store.ensure(SPEC) == SPEC
    params = store.client.get_collection("fresh").config.params
    assert params.vectors["dense"].size == 4
    assert params.vectors["dense"].distance == models.Distance.COSINE
    assert params.sparse_vectors["sparse"].modifier == models.Modifier.IDF
    assert store.client.collection_exists("fresh__sources")
    assert store.read_spec() == SPEC and store.count() == 0


def test_a_new_edge_collection_has_its_vectors_indexes_registry_and_engine_record(tmp_path: Path) -> None:
    import qdrant_edge

    with QdrantStore("fresh", path=tmp_path / "q") as store:
        assert store.engine.name == "qdrant-edge"
        assert not store.exists()
        assert store.ensure(SPEC) == SPEC
        assert store.engine.dense_size("fresh") == 4 and store.sources.exists()
        config = store.engine.shard("fresh").info()
        assert set(config.payload_schema) == {"source", "chunk_index"}
        assert store.read_spec() == SPEC and store.count() == 0
    record = json.loads((tmp_path / "q" / "qwen3-rag-store.json").read_text())
    assert record["engine"] == "qdrant-edge" and record["engine_version"] == qdrant_edge_version()
    assert record["created_with"] == qdrant_edge_version() and qdrant_edge is not None


def qdrant_edge_version() -> str:
    from importlib.metadata import version

    return version("qdrant-edge-py")


def test_points_come_back_with_their_vectors(store: QdrantStore) -> None:
    points = {p.id: p for p in store.points()}
    assert len(points) == 4
    first = points[point_id("/docs/a.md", 0)]
    assert first.dense is not None and first.dense[0] == pytest.approx(1.0)
    assert list(first.sparse.indices) == [10] and list(first.sparse.values) == [1.0]
    assert first.payload == chunk_payload("/docs/a.md", 0, "alpha one")


# ----------------------------------------------------------------------------- points
def test_query_returns_the_nearest_chunks_with_their_payload(store: QdrantStore) -> None:
    hits = store.query([0.1, 0.9, 0.0, 0.0], limit=2)
    assert [(h.source, h.chunk_index, h.text) for h in hits] == [
        ("/docs/a.md", 1, "alpha two"),
        ("/docs/a.md", 0, "alpha one"),
    ]
    assert hits[0].id == point_id("/docs/a.md", 1)
    assert hits[0].score > hits[1].score
    assert set(hits[0].payload) == {"text", "source", "chunk_index", "content_hash"}


def test_query_with_a_filter_searches_only_matching_chunks(store: QdrantStore) -> None:
    hits = store.query(
        [1.0, 0.0, 0.0, 0.0], limit=10, query_filter=build_filter({"source": "/docs/sub/b.md"})
    )
    assert [h.text for h in hits] == ["beta one"]
    any_of = build_filter({"chunk_index": [1, 2], "source": "/docs/a.md"})
    assert sorted(h.text for h in store.query([1.0, 0, 0, 0], limit=10, query_filter=any_of)) == [
        "alpha three",
        "alpha two",
    ]


def test_hybrid_query_fuses_a_sparse_match_with_the_dense_ranking(store: QdrantStore) -> None:
    # Dense alone ranks "beta one" last; the sparse term 13 occurs only in it.
    query = [1.0, 0.3, 0.2, 0.1]
    assert [h.text for h in store.query(query, limit=4)] == [
        "alpha one",
        "alpha two",
        "alpha three",
        "beta one",
    ]
    fused = store.query(query, limit=4, sparse=sparse(13))
    # Reciprocal rank fusion: last of four dense plus first of one sparse beats first dense alone.
    assert [h.text for h in fused] == ["beta one", "alpha one", "alpha two", "alpha three"]


def test_existing_hashes_name_only_stored_points(store: QdrantStore) -> None:
    stored, missing = point_id("/docs/a.md", 0), point_id("/docs/a.md", 9)
    assert store.existing_hashes([stored, missing]) == {
        stored: chunk_payload("/docs/a.md", 0, "alpha one")["content_hash"]
    }
    assert store.existing_hashes([]) == {}


def test_upserting_the_same_ids_replaces_the_points(store: QdrantStore) -> None:
    write(store, [("/docs/a.md", 0, "alpha one, edited", [1.0, 0.0, 0.0, 0.0])])
    assert store.count() == 4
    assert store.query([1.0, 0, 0, 0], limit=1)[0].text == "alpha one, edited"


def test_delete_source_from_an_index_keeps_the_chunks_before_it(store: QdrantStore) -> None:
    store.delete_source_from("/docs/a.md", 1)
    assert store.chunk_counts() == {"/docs/a.md": 1, "/docs/sub/b.md": 1}
    assert store.query([0.0, 1.0, 0.0, 0.0], limit=1)[0].text != "alpha two"


def test_delete_source_removes_all_its_chunks_and_nothing_else(store: QdrantStore) -> None:
    assert store.count_source("/docs/a.md") == 3
    store.delete_source("/docs/a.md")
    assert store.count_source("/docs/a.md") == 0 and store.count() == 1
    assert store.chunk_counts() == {"/docs/sub/b.md": 1}


def test_delete_ids(store: QdrantStore) -> None:
    store.delete_ids([point_id("/docs/sub/b.md", 0)])
    assert store.chunk_counts() == {"/docs/a.md": 3}


# ----------------------------------------------------------------------------- source registry
def test_registry_records_are_listed_sorted_and_deleted(store: QdrantStore) -> None:
    store.sources.put(
        [
            SourceRecord("/docs/sub/b.md", 1, "2025-01-02T00:00:00+00:00"),
            SourceRecord("/docs/a.md", 3, None, False),
        ]
    )
    assert store.sources.all() == [
        SourceRecord("/docs/a.md", 3, None, complete=False),
        SourceRecord("/docs/sub/b.md", 1, "2025-01-02T00:00:00+00:00"),
    ]
    store.sources.put([SourceRecord("/docs/a.md", 3, "2025-01-03T00:00:00+00:00")])  # same source: replaced
    assert [r.complete for r in store.sources.all()] == [True, True]
    store.sources.delete(["/docs/a.md"])
    assert [r.source for r in store.sources.all()] == ["/docs/sub/b.md"]


def test_a_collection_without_a_registry_gets_one_filled_from_its_chunks(store: QdrantStore) -> None:
    store.sources.drop()
    assert not store.sources.exists()
    # Listing still works, counted from the chunks.
    assert [(r.source, r.chunks) for r in store.sources.all()] == [("/docs/a.md", 3), ("/docs/sub/b.md", 1)]
    store.ensure(SPEC)  # opening it for writing creates the registry
    assert store.sources.exists()
    assert [(r.source, r.chunks, r.ingested_at) for r in store.sources.all()] == [
        ("/docs/a.md", 3, None),
        ("/docs/sub/b.md", 1, None),
    ]


def test_removing_sources_under_a_folder_deletes_chunks_then_records(store: QdrantStore) -> None:
    store.sources.put([SourceRecord("/docs/a.md", 3, None), SourceRecord("/docs/sub/b.md", 1, None)])
    records = store.sources.all()
    assert [r.source for r in sources_under(records, ["/docs/sub"])] == ["/docs/sub/b.md"]
    assert [r.source for r in sources_under(records, ["/docs/su"])] == []  # a prefix is not a folder
    assert remove_sources(store, sources_under(records, ["/docs/sub"])) == (1, 1)
    assert store.chunk_counts() == {"/docs/a.md": 3}
    assert [r.source for r in store.sources.all()] == ["/docs/a.md"]


def test_an_incomplete_record_is_removed_with_its_counted_chunks(store: QdrantStore) -> None:
    interrupted = SourceRecord("/docs/a.md", 0, None, complete=False)  # its count was never written
    assert remove_sources(store, [interrupted]) == (1, 3)
    assert store.count_source("/docs/a.md") == 0


def test_missing_sources_are_those_a_walk_would_reach_but_did_not_find() -> None:
    records = [SourceRecord(s, 1, None) for s in ("/d/a.md", "/d/.hidden/x.md", "/d/gone.md", "/e/b.md")]
    found = {"/d/a.md"}
    # Hidden entries are not walked, and /e is not one of the roots: neither counts as missing.
    assert [r.source for r in missing_sources(records, ["/d"], found)] == ["/d/gone.md"]


# ----------------------------------------------------------------------------- the recorded vector space
def test_the_weights_fingerprint_decides_when_both_sides_have_one(store: QdrantStore) -> None:
    renamed = EmbeddingSpec("/models/my-copy", 4, fingerprint="abc123")
    assert store.open(renamed) == SPEC  # same weights under another name
    same_name_other_weights = EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 4, fingerprint="fff999")
    with pytest.raises(CollectionMismatchError, match=r"weights abc123.*weights fff999"):
        store.open(same_name_other_weights)
    # Without a fingerprint on one side, the model's name decides.
    assert store.open(EmbeddingSpec("/models/Qwen3-Embedding-0.6B", 4)) == SPEC


def test_chunking_is_recorded_beside_the_vector_space(store: QdrantStore) -> None:
    assert store.read_chunking() is None
    store.record_chunking(256, 32)
    assert store.read_chunking() == (256, 32)
    assert store.read_spec() == SPEC  # the vector space record is untouched


def test_a_collection_not_made_by_qwen3_rag_is_refused() -> None:
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "theirs", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)
    )
    store = QdrantStore("theirs", client=client)
    with pytest.raises(CollectionMismatchError, match=r"not made by qwen3-rag.*another collection= "):
        store.open(SPEC)


def test_a_collection_without_metadata_is_judged_by_its_dense_size() -> None:
    """Qdrant servers before 1.16 drop collection metadata: the vector size is what is left."""
    client = QdrantClient(location=":memory:")
    client.create_collection(
        "old", vectors_config={"dense": models.VectorParams(size=4, distance=models.Distance.COSINE)}
    )
    store = QdrantStore("old", client=client)
    assert store.open(SPEC).dimensions == 4
    with pytest.raises(CollectionMismatchError, match="with 4 dimensions"):
        store.open(EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 8))
    store.close()  # a client passed in stays open: it is the caller's
    assert client.collection_exists("old")


def test_spec_metadata_round_trip() -> None:
    metadata = SPEC.to_metadata()
    assert EmbeddingSpec.from_metadata(metadata) == SPEC
    assert EmbeddingSpec.from_metadata(json.loads(json.dumps(metadata))) == SPEC  # as stored: JSON
    assert EmbeddingSpec.from_metadata(None) is None and EmbeddingSpec.from_metadata({"other": 1}) is None


# ----------------------------------------------------------------------------- embedded folders
@pytest.mark.parametrize("kind", ["edge", "local"])
def test_an_embedded_store_persists_across_clients(tmp_path: Path, kind: str) -> None:
    with QdrantStore("docs", path=tmp_path / "q", engine=kind) as first:
        first.ensure(SPEC)
        write(first)
        first.record_chunking(128, 16)
        first.sources.put([SourceRecord("/docs/a.md", 3, None)])
    with QdrantStore("docs", path=tmp_path / "q", create=False) as again:  # the layout says which engine
        assert again.engine.name == ("qdrant-edge" if kind == "edge" else "qdrant-client")
        assert again.open(SPEC) == SPEC and again.count() == 4 and again.read_chunking() == (128, 16)
        assert again.chunk_counts() == {"/docs/a.md": 3, "/docs/sub/b.md": 1}
        assert [r.source for r in again.sources.all()] == ["/docs/a.md"]
        assert again.query([0.0, 0.0, 0.0, 1.0], limit=1)[0].text == "beta one"


def test_a_deleted_source_is_not_counted_after_a_reopen(tmp_path: Path, filled_folders: StoreFolders) -> None:
    """Edge's facet lists a deleted value with count 0 until the shard reopens: never shown."""
    filled_folders.copy("edge", tmp_path / "q")
    with QdrantStore("docs", path=tmp_path / "q") as store:
        store.delete_source("/docs/sub/b.md")
        assert store.chunk_counts() == {"/docs/a.md": 3}
    with QdrantStore("docs", path=tmp_path / "q") as again:
        assert again.chunk_counts() == {"/docs/a.md": 3}


def test_a_reader_of_a_folder_without_a_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(CollectionNotFoundError, match="no Qdrant store at"):
        QdrantStore("docs", path=tmp_path / "typo", create=False)
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("meta.json", "meta.json cannot be read"),
        ("truncated sqlite", "storage.sqlite is empty"),
        ("missing sqlite", "has no storage.sqlite"),
    ],
)
def test_a_damaged_local_mode_folder_is_one_clear_error(
    tmp_path: Path, filled_folders: StoreFolders, damage: str, message: str
) -> None:
    folder = filled_folders.copy("local", tmp_path / "q")
    sqlite = folder / "collection" / "docs" / "storage.sqlite"
    if damage == "meta.json":
        (folder / "meta.json").write_text('{"collections": ', encoding="utf-8")
    elif damage == "truncated sqlite":
        sqlite.write_bytes(b"")
    else:
        sqlite.unlink()
    with pytest.raises(StoreDamagedError, match=message) as caught:
        QdrantStore("docs", path=folder)
    assert str(folder) in str(caught.value) and "qwen3-rag ingest" in str(caught.value)


def _first(folder: Path, pattern: str) -> Path:
    return sorted(folder.glob(pattern))[0]


EDGE_DAMAGE = {
    "store record": (
        lambda f: (f / "qwen3-rag-store.json").write_text("{", encoding="utf-8"),
        "cannot be read",
    ),
    "collection record": (
        lambda f: (f / "collections/docs/collection.json").write_bytes(b""),
        "collection.json cannot be read",
    ),
    "shard config": (
        lambda f: (f / "collections/docs/shard/edge_config.json").unlink(),
        "no shard configuration",
    ),
    "segments gone": (lambda f: shutil.rmtree(f / "collections/docs/shard/segments"), "has no segments"),
    "segment state": (
        lambda f: _first(f, "collections/docs/shard/segments/*/segment.json").write_bytes(b""),
        "cannot be loaded",
    ),
    "payload pages": (
        lambda f: _first(f, "collections/docs/shard/segments/*/payload_storage/config.json").write_bytes(b""),
        "cannot be loaded",
    ),
    "write-ahead log": (
        lambda f: [p.write_bytes(b"") for p in (f / "collections/docs/shard/wal").iterdir()],
        "cannot be loaded",
    ),
}


@pytest.mark.parametrize("damage", sorted(EDGE_DAMAGE))
def test_a_damaged_edge_folder_is_one_clear_error(
    tmp_path: Path, filled_folders: StoreFolders, damage: str
) -> None:
    folder = filled_folders.copy("edge", tmp_path / "q")
    harm, message = EDGE_DAMAGE[damage]
    harm(folder)
    for _ in range(2):  # the same error again: a failed open let go of the folder's lock
        damaged = pytest.raises(StoreDamagedError, match=message)
        with damaged as caught, QdrantStore("docs", path=folder) as again:
            again.open(SPEC)
            again.count()
        assert str(folder) in str(caught.value) and "qwen3-rag ingest" in str(caught.value)


# ----------------------------------------------------------------------------- one-line errors (Edge)
HOLDER = """
import sys, time
from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore
store = QdrantStore("docs", path=sys.argv[1])
store.ensure(EmbeddingSpec("m", 4))
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_a_folder_held_by_another_process_names_it_and_what_to_do(tmp_path: Path) -> None:
    import subprocess
    import sys

    from qwen3_rag import StoreConnectionError

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "q")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreConnectionError) as caught:
            QdrantStore("docs", path=tmp_path / "q")
        message = str(caught.value)
        assert f"in use by process {holder.pid}" in message and "\n" not in message
        assert "stop that process" in message and "qdrant_url=" in message and "--qdrant-url" not in message
    finally:
        holder.kill()
        holder.wait()
    with QdrantStore("docs", path=tmp_path / "q") as store:  # the lock died with its holder
        assert store.open().dimensions == 4


def test_an_unwritable_folder_says_so_not_that_it_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins
    import os

    from qwen3_rag import StoreConnectionError

    folder = tmp_path / "q"
    with QdrantStore("docs", path=folder) as store:
        store.ensure(SPEC)
    if os.geteuid() != 0:
        folder.chmod(0o500)
        (folder / ".lock").chmod(0o400)
    else:  # root writes through permissions: refuse the lock file as a read-only folder would
        real_open = builtins.open

        def refusing(file: object, *args: object, **kwargs: object) -> object:
            if str(file).endswith(".lock"):
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(builtins, "open", refusing)
    try:
        with pytest.raises(StoreConnectionError) as caught:
            QdrantStore("docs", path=folder)
    finally:
        folder.chmod(0o700)
    message = str(caught.value)
    assert message.startswith(f"Cannot write to the embedded store folder {str(folder)!r}")
    assert "write access" in message and "in use" not in message and "Close the other" not in message


def _store_stamped_by_edge(tmp_path: Path, engine_version: str) -> Path:
    """A written store whose record says Qdrant Edge ``engine_version`` wrote it."""
    folder = tmp_path / "q"
    with QdrantStore("docs", path=folder) as store:
        store.ensure(SPEC)
        write(store)
    record = json.loads((folder / "qwen3-rag-store.json").read_text())
    record["engine_version"] = engine_version
    (folder / "qwen3-rag-store.json").write_text(json.dumps(record))
    return folder


def test_a_store_written_by_a_newer_edge_release_names_the_release_to_install(tmp_path: Path) -> None:
    folder = _store_stamped_by_edge(tmp_path, "0.99.1")
    with pytest.raises(StoreDamagedError, match=r"written by Qdrant Edge 0\.99\.1.*qdrant-edge-py==0\.99\.1"):
        QdrantStore("docs", path=folder)


def test_a_shard_another_edge_release_wrote_and_this_one_cannot_load_says_which(tmp_path: Path) -> None:
    folder = _store_stamped_by_edge(
        tmp_path, "0.8.0"
    )  # older: allowed to open, but its files do not load here
    _first(folder, "collections/docs/shard/segments/*/segment.json").write_text(
        '{"format": "from elsewhere"}'
    )
    with pytest.raises(StoreDamagedError, match=r"Qdrant Edge cannot read .*written by Qdrant Edge 0\.8\.0"):
        QdrantStore("docs", path=folder).open()


# ----------------------------------------------------------------------------- filters on Edge
FILTERS = {
    "match value": models.Filter(
        must=[models.FieldCondition(key="source", match=models.MatchValue(value="/docs/a.md"))]
    ),
    "match any": models.Filter(
        must=[models.FieldCondition(key="chunk_index", match=models.MatchAny(any=[0, 2]))]
    ),
    "match except": models.Filter(
        must=[models.FieldCondition(key="source", match=models.MatchExcept(**{"except": ["/docs/a.md"]}))]
    ),
    "range": models.Filter(must=[models.FieldCondition(key="chunk_index", range=models.Range(gt=0, lte=1))]),
    "must not": models.Filter(
        must_not=[models.FieldCondition(key="source", match=models.MatchValue(value="/docs/sub/b.md"))]
    ),
    "should, nested": models.Filter(
        should=[
            models.Filter(must=[models.FieldCondition(key="chunk_index", match=models.MatchValue(value=2))]),
            models.FieldCondition(key="source", match=models.MatchValue(value="/docs/sub/b.md")),
        ]
    ),
    "has id": models.Filter(must=[models.HasIdCondition(has_id=[point_id("/docs/a.md", 1)])]),
    "is empty": models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="missing"))]),
}


@pytest.fixture(scope="module")
def edge_and_memory(
    tmp_path_factory: pytest.TempPathFactory, filled_folders: StoreFolders
) -> Iterator[tuple[QdrantStore, QdrantStore]]:
    """The same four chunks on Edge and on ``:memory:``, shared by the read-only filter cases."""
    folder = filled_folders.copy("edge", tmp_path_factory.mktemp("filters") / "q")
    with QdrantStore("docs", path=folder) as edge, QdrantStore("docs", location=":memory:") as memory:
        memory.ensure(SPEC)
        write(memory)
        yield edge, memory


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_qdrant_client_filters_select_the_same_chunks_on_edge(
    edge_and_memory: tuple[QdrantStore, QdrantStore], name: str
) -> None:
    edge, memory = edge_and_memory
    expected = [h.id for h in memory.query([1.0, 0.5, 0.25, 0.1], limit=10, query_filter=FILTERS[name])]
    assert expected  # every filter here selects something
    assert [h.id for h in edge.query([1.0, 0.5, 0.25, 0.1], limit=10, query_filter=FILTERS[name])] == expected


def test_a_filter_edge_cannot_express_is_refused_not_dropped(tmp_path: Path) -> None:
    from qwen3_rag import InvalidOptionError

    geo = models.Filter(
        must=[
            models.FieldCondition(
                key="where", geo_radius=models.GeoRadius(center=models.GeoPoint(lon=0, lat=0), radius=1.0)
            )
        ]
    )
    with QdrantStore("docs", path=tmp_path / "q") as store:
        store.ensure(SPEC)
        with pytest.raises(InvalidOptionError, match="cannot filter by a geo"):
            store.query([1.0, 0, 0, 0], limit=3, query_filter=geo)
