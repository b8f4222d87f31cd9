"""Documents given by id (``Ingestor.ingest_documents``, ``write_chunks``): metadata, filters, tenants.

Every test runs on an embedded folder on Qdrant Edge (the default) and in qdrant-client's local
mode, as tests/test_pipeline_mirror.py does: the same calls must give the same collection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import (
    ChunkedDocument,
    Ingestor,
    QdrantStore,
    SourceDocument,
    TwoStageRetriever,
    chunk_point_id,
)

CHUNK_TOKENS, OVERLAP = 16, 4

DOCS = [
    SourceDocument(
        "kb/ops/rotate",
        "To rotate the API key, open settings and press rotate.",
        {"team": "ops", "year": 2021},
    ),
    SourceDocument(
        "kb/ops/backup", "Backups run nightly and are kept for thirty days.", {"team": "ops", "year": 2019}
    ),
    SourceDocument(
        "kb/dev/release", "Releases are cut from main every second Tuesday.", {"team": "dev", "year": 2023}
    ),
    SourceDocument(
        "notes/misc",
        "The office closes at six on Fridays.",
        {
            "team": "hr",
            "year": 2024,
            "public": True,
            "score": 0.5,
            "tags": ["a", "b"],
            "author": {"name": "Ann"},
        },
    ),
]


@pytest.fixture
def embedder(tiny_embedder: Qwen3Embedder) -> Qwen3Embedder:
    return tiny_embedder


@pytest.fixture(params=["edge", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QdrantStore]:
    """An embedded folder on Qdrant Edge (the default) or in qdrant-client's local mode."""
    with QdrantStore("t", path=tmp_path / "store", engine=request.param) as opened:
        yield opened


def ingestor(store: QdrantStore, embedder: Qwen3Embedder, **options: Any) -> Ingestor:
    return Ingestor(
        store, embedder, chunk_tokens=CHUNK_TOKENS, overlap=OVERLAP, batch_size=4, progress=False, **options
    )


def snapshot(store: QdrantStore) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    return {p.id: (p.payload, np.asarray(p.dense)) for p in store.points(with_vectors=True)}


def indexed(store: QdrantStore) -> set[str]:
    """The payload fields with an index (Edge; local mode indexes nothing)."""
    if store.engine.name != "qdrant-edge":
        return set()
    return set(store.engine.shard("t").info().payload_schema)


def sources_of(store: QdrantStore, embedder: Qwen3Embedder, where: Any, **options: Any) -> list[str]:
    query = embedder.embed_queries(["anything"])[0]
    return sorted({h.source for h in store.query(query, limit=100, query_filter=where, **options)})


def test_documents_are_stored_with_their_metadata_and_listed_as_sources(
    embedder: Qwen3Embedder, store: QdrantStore
) -> None:
    report = ingestor(store, embedder).ingest_documents(DOCS)
    assert report.documents == 4 and report.files == 0 and report.embedded == report.chunks == store.count()
    assert report.summary().startswith("4 documents, ")
    for doc in DOCS:
        first = store.engine.retrieve("t", [chunk_point_id(doc.id, 0)], ["source", "metadata", "chunk_index"])
        assert first and first[0].payload == {
            "source": doc.id,
            "chunk_index": 0,
            "metadata": dict(doc.metadata),
        }
    records = {r.source: r for r in store.sources.all()}
    assert sorted(records) == sorted(d.id for d in DOCS)
    assert all(r.kind == "document" and r.complete and r.tenant is None for r in records.values())
    assert {s: r.chunks for s, r in records.items()} == store.chunk_counts()


def test_filters_on_metadata_fields_values_ranges_and_source_prefixes(
    embedder: Qwen3Embedder, store: QdrantStore
) -> None:
    ingestor(store, embedder, index_fields={"team": "keyword", "year": "integer"}).ingest_documents(DOCS)
    assert indexed(store) >= ({"metadata.team", "metadata.year"} if store.engine.indexes_payload else set())
    ops, dev, misc = ["kb/ops/backup", "kb/ops/rotate"], ["kb/dev/release"], ["notes/misc"]
    cases: list[tuple[Any, list[str]]] = [
        ({"team": "ops"}, ops),
        ({"team": ["ops", "dev"]}, sorted(dev + ops)),
        ({"year": {"gte": 2020, "lt": 2024}}, sorted(dev + ["kb/ops/rotate"])),
        ({"year": 2019}, ["kb/ops/backup"]),
        ({"team": "ops", "year": {"gt": 2020}}, ["kb/ops/rotate"]),
        ({"public": True}, misc),
        ({"score": 0.5}, misc),
        ({"tags": "b"}, misc),
        ({"author.name": "Ann"}, misc),
        ({"metadata.team": "dev"}, dev),
        ({"team": {"ne": "ops"}}, sorted(dev + misc)),
        ({"team": {"nin": ["ops", "hr"]}}, dev),
        ({"source": "kb/ops/"}, ops),
        ({"source": ["kb/dev/", "notes/misc"]}, sorted(dev + misc)),
        ({"source": "kb/nothing/"}, []),
        ({"chunk_index": 0}, sorted(dev + misc + ops)),
        (None, sorted(dev + misc + ops)),
    ]
    for where, expected in cases:
        assert sources_of(store, embedder, where) == expected, where
    with pytest.raises(InvalidOptionError, match="unknown operator 'between'"):
        store.query([0.0] * embedder.dimensions, limit=3, query_filter={"year": {"between": [1, 2]}})


def test_reingest_skips_unchanged_replaces_edited_and_removes_missing_under_a_prefix(
    embedder: Qwen3Embedder, store: QdrantStore, tmp_path: Path
) -> None:
    long_text = " ".join(f"Sentence {i} of a long document about rotating keys." for i in range(20))
    docs = [*DOCS, SourceDocument("kb/ops/long", long_text, {"team": "ops"})]
    first = ingestor(store, embedder).ingest_documents(docs)
    again = ingestor(store, embedder).ingest_documents(docs)
    assert again.embedded == 0 and again.unchanged == first.chunks

    edited = [
        SourceDocument("kb/ops/long", "Now short.", {"team": "ops"}),  # fewer chunks: nothing left behind
        SourceDocument("kb/ops/rotate", DOCS[0].text, {"team": "security", "year": 2021}),  # metadata only
        DOCS[1],
        DOCS[3],  # kb/dev/release is not given: removed, as it is under the prefix "kb/"
    ]
    report = ingestor(store, embedder).ingest_documents(edited, remove_missing_under="kb/")
    assert report.removed_documents == 1 and report.removed_chunks >= 1
    assert "removed 1 document" in report.summary()

    engine = "edge" if store.engine.name == "qdrant-edge" else "local"
    fresh = QdrantStore("t", path=tmp_path / "fresh", engine=engine)
    ingestor(fresh, embedder).ingest_documents(edited)
    expected, actual = snapshot(fresh), snapshot(store)
    assert sorted(actual) == sorted(expected)
    for pid, (payload, vector) in expected.items():
        assert actual[pid][0] == payload, pid
        np.testing.assert_allclose(actual[pid][1], vector, atol=1e-6, rtol=0)
    assert [(r.source, r.chunks) for r in store.sources.all()] == [
        (r.source, r.chunks) for r in fresh.sources.all()
    ]
    assert sources_of(store, embedder, {"team": "security"}) == ["kb/ops/rotate"]
    fresh.close()


def test_tenants_keep_same_id_documents_apart_and_scope_queries_and_removal(
    embedder: Qwen3Embedder, store: QdrantStore
) -> None:
    ingestor(store, embedder, tenant="acme").ingest_documents([SourceDocument("faq", "Acme sells anvils.")])
    ingestor(store, embedder, tenant="globex").ingest_documents(
        [SourceDocument("faq", "Globex sells everything."), SourceDocument("x", "Other.", tenant="initech")]
    )
    ingestor(store, embedder).ingest_documents([SourceDocument("faq", "No tenant here.")])
    assert "tenant" in indexed(store) or not store.engine.indexes_payload  # Qdrant's tenant index
    ids = {p.id: p.payload for p in store.points(with_vectors=False)}
    assert chunk_point_id("faq", 0, "acme") in ids and chunk_point_id("faq", 0) in ids
    assert ids[chunk_point_id("faq", 0, "acme")]["tenant"] == "acme"
    assert "tenant" not in ids[chunk_point_id("faq", 0)]
    query = embedder.embed_queries(["who sells?"])[0]
    texts = [h.text for h in store.query(query, limit=10, tenant="acme")]
    assert texts == ["Acme sells anvils."]
    assert sources_of(store, embedder, {"tenant": "initech"}) == ["x"]
    assert {(r.source, r.tenant) for r in store.sources.all()} == {
        ("faq", "acme"),
        ("faq", "globex"),
        ("faq", None),
        ("x", "initech"),
    }
    # Pruning under a prefix is scoped to the ingestor's tenant: acme's faq and the untenanted one stay.
    report = ingestor(store, embedder, tenant="globex").ingest_documents([], remove_missing_under="")
    assert report.removed_documents == 1
    assert ingestor(store, embedder).remove("faq") == 1  # the untenanted faq only
    assert {(r.source, r.tenant) for r in store.sources.all()} == {("faq", "acme"), ("x", "initech")}
    assert [h.text for h in store.query(query, limit=10)] and store.count() == 2


def test_write_chunks_stores_framework_chunks_with_given_or_computed_vectors(
    embedder: Qwen3Embedder, store: QdrantStore
) -> None:
    writer = ingestor(store, embedder)
    given = embedder.embed_documents(["node one", "node two"])
    report = writer.write_chunks(
        [
            ChunkedDocument(
                "doc-1", ["node one", "node two"], {"team": "ops"}, [{"node": 1}, {"node": 2}], given
            ),
            ChunkedDocument("doc-2", ["only node"], {"team": "dev"}),
        ]
    )
    assert (report.documents, report.chunks, report.embedded) == (2, 3, 3)
    points = {p.id: p for p in store.points(with_vectors=True)}
    second = points[chunk_point_id("doc-1", 1)]
    assert second.payload["metadata"] == {"team": "ops", "node": 2} and second.payload["text"] == "node two"
    np.testing.assert_allclose(second.dense, given[1], atol=1e-6)
    assert writer.write_chunks([ChunkedDocument("doc-2", ["only node"], {"team": "dev"})]).embedded == 0
    writer.write_chunks([ChunkedDocument("doc-1", ["node one"], {"team": "ops"}, [{"node": 1}])])
    assert store.chunk_counts() == {"doc-1": 1, "doc-2": 1}
    assert {r.source: r.chunks for r in store.sources.all()} == {"doc-1": 1, "doc-2": 1}
    with pytest.raises(InvalidOptionError, match="vector 0 has 3 dimensions"):
        writer.write_chunks([ChunkedDocument("doc-3", ["x"], vectors=[[1.0, 2.0, 3.0]])])
    assert writer.remove("doc-1") == 1 and writer.remove("doc-1") == 0
    assert store.chunk_counts() == {"doc-2": 1}


def test_retrieved_chunks_carry_metadata_and_a_retriever_tenant_scopes_them(
    embedder: Qwen3Embedder, tiny_reranker: Qwen3Reranker
) -> None:
    reranker = tiny_reranker
    store = QdrantStore("t", location=":memory:")
    ingestor(store, embedder).ingest_documents(DOCS)
    ingestor(store, embedder, tenant="acme").ingest_documents(
        [SourceDocument("kb/acme", "Acme rotates keys daily.")]
    )
    retriever = TwoStageRetriever(store, embedder, reranker, top_n=10)
    results = retriever.retrieve("rotate the key", filters={"team": "ops"})
    assert {r.source for r in results} == {"kb/ops/rotate", "kb/ops/backup"}
    assert all(r.metadata["team"] == "ops" and r.to_dict()["metadata"] == r.metadata for r in results)
    scoped = TwoStageRetriever(store, embedder, reranker, top_n=10, tenant="acme")
    assert {r.source for r in scoped.retrieve("rotate the key")} == {"kb/acme"}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SourceDocument("", "text"), "SourceDocument.id must be a non-empty string"),
        (lambda: SourceDocument("a\x00b", "text"), "must not contain a NUL"),
        (lambda: SourceDocument("a", 3), "SourceDocument.text of 'a' must be a str"),  # type: ignore[arg-type]
        (lambda: SourceDocument("a", "t", {"when": object()}), r"metadata of 'a'\['when'\] is a object"),
        (lambda: SourceDocument("a", "t", {"x": {"y": float("nan")}}), r"\['x'\]\['y'\] is nan"),
        (lambda: SourceDocument("a", "t", {1: "x"}), "keys must be strings, got the key 1"),  # type: ignore[dict-item]
        (lambda: SourceDocument("a", "t", tenant=""), "tenant must be a non-empty string"),
        (lambda: ChunkedDocument("a", "text"), "must be a list of str"),
        (lambda: ChunkedDocument("a", ["x"], chunk_metadata=[{}, {}]), "2 chunk_metadata for 1 chunks"),
    ],
)
def test_bad_documents_are_refused_with_the_field_named(make: Any, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        make()


def test_metadata_is_kept_as_json_would_store_it() -> None:
    doc = SourceDocument("a", "t", {"tags": ("x", "y"), "n": None, "deep": {"list": [1, 2.5, True]}})
    assert doc.metadata == {"tags": ["x", "y"], "n": None, "deep": {"list": [1, 2.5, True]}}
