"""Ingestion: deterministic ids, idempotent re-runs, edits, interruption, skipped files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import Qwen3Embedder
from qwen3_rag.pipeline import Ingestor, QdrantStore, TokenChunker
from qwen3_rag.pipeline._layout import point_id

pytestmark = pytest.mark.models  # every test here builds or loads a model

TEXTS = {
    "paris.txt": "Paris is the capital and largest city of France. " * 6,
    "python.md": "# Python\n\nPython is a programming language. Qdrant is a vector database. " * 5,
    "sub/fox.rst": "The quick brown fox jumps over the lazy dog. " * 8,
}


@pytest.fixture
def embedder(tiny_embedding_path: str) -> Qwen3Embedder:
    return Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for name, text in TEXTS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def make_ingestor(embedder: Qwen3Embedder, store: QdrantStore | None = None, **kw: Any) -> Ingestor:
    store = store or QdrantStore("t", location=":memory:")
    kw.setdefault("batch_size", 3)
    return Ingestor(store, embedder, chunk_tokens=16, overlap=4, progress=False, **kw)


def snapshot(store: QdrantStore) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    return {p.id: (p.payload, np.asarray(p.dense)) for p in store.points(with_vectors=True)}


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key][0] == b[key][0]
        np.testing.assert_allclose(a[key][1], b[key][1], atol=1e-5)


def test_ids_are_deterministic_uuid5_of_source_and_index(embedder: Qwen3Embedder, docs: Path) -> None:
    assert point_id("/a.txt", 0) == point_id("/a.txt", 0)
    assert len({point_id("/a.txt", 0), point_id("/a.txt", 1), point_id("/b.txt", 0)}) == 3
    first, second = make_ingestor(embedder), make_ingestor(embedder)
    first.ingest([docs])
    second.ingest([docs])
    snap = snapshot(first.store)
    assert snap.keys() == snapshot(second.store).keys()
    for pid, (payload, _) in snap.items():
        assert pid == point_id(payload["source"], payload["chunk_index"])
        # Plain text keeps exactly the original fields; markdown adds its heading path.
        extra = {"headings"} if payload["source"].endswith(".md") else set()
        assert set(payload) == {"text", "source", "chunk_index", "content_hash"} | extra
        assert Path(payload["source"]).is_absolute()


def test_chunks_cover_each_file_with_configured_sizes(embedder: Qwen3Embedder) -> None:
    chunker = TokenChunker(embedder.tokenizer, chunk_tokens=16, overlap=4)
    text = TEXTS["paris.txt"]
    chunks = chunker.split(text)
    assert len(chunks) > 2
    counts = [len(embedder.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in chunks]
    # Re-tokenizing a slice can split its first word differently (no leading space): a few extra.
    assert max(counts) <= 16 + 4
    assert chunks[0] == text[: len(chunks[0])]
    assert text.rstrip().endswith(chunks[-1])


def test_reingest_changes_nothing(embedder: Qwen3Embedder, docs: Path) -> None:
    ingestor = make_ingestor(embedder)
    first = ingestor.ingest([docs])
    assert first.embedded == first.chunks > 0
    before = snapshot(ingestor.store)
    calls: list[int] = []
    original = embedder.embed_documents

    def counting(texts: Any) -> Any:
        calls.append(len(texts))
        return original(texts)

    ingestor.embedder.embed_documents = counting
    second = ingestor.ingest([docs])
    assert calls == []
    assert (second.embedded, second.unchanged) == (0, first.chunks)
    assert_same(before, snapshot(ingestor.store))


def test_edited_file_replaces_its_chunks_and_leaves_none_behind(embedder: Qwen3Embedder, docs: Path) -> None:
    ingestor = make_ingestor(embedder)
    ingestor.ingest([docs])
    (docs / "paris.txt").write_text("Paris is in France.", encoding="utf-8")
    report = ingestor.ingest([docs])
    assert report.embedded == 1
    fresh = make_ingestor(embedder)
    fresh.ingest([docs])
    assert_same(snapshot(fresh.store), snapshot(ingestor.store))
    paris = [p for p, _ in snapshot(ingestor.store).values() if p["source"].endswith("paris.txt")]
    assert [p["text"] for p in paris] == ["Paris is in France."]


def test_leftovers_are_deleted_by_id_and_only_when_present(embedder: Qwen3Embedder, docs: Path) -> None:
    ingestor = make_ingestor(embedder)
    calls: list[tuple[str, int]] = []
    store = ingestor.store
    delete_ids, delete_from = store.delete_ids, store.delete_source_from

    def by_ids(ids: Any) -> None:
        calls.append(("ids", len(ids)))
        delete_ids(ids)

    def by_filter(source: str, first_stale_index: int) -> None:
        calls.append(("filter", first_stale_index))
        delete_from(source, first_stale_index)

    store.delete_ids = by_ids  # type: ignore[method-assign]
    store.delete_source_from = by_filter  # type: ignore[method-assign]
    ingestor.ingest([docs])
    ingestor.ingest([docs])
    assert calls == []
    paris = docs / "paris.txt"
    before = [p for p, _ in snapshot(store).values() if p["source"].endswith("paris.txt")]
    paris.write_text("Paris is in France.", encoding="utf-8")
    ingestor.ingest([docs])
    assert calls == [("ids", len(before) - 1)]
    # Longer than the probe window: the rest goes by filter, and nothing is left behind.
    calls.clear()
    paris.write_text("Paris is in France. " * 400, encoding="utf-8")
    ingestor.ingest([docs])
    paris.write_text("Paris.", encoding="utf-8")
    ingestor.ingest([docs])
    assert calls == [("ids", 64), ("filter", 65)]
    fresh = make_ingestor(embedder)
    fresh.ingest([docs])
    assert_same(snapshot(fresh.store), snapshot(store))


def test_chunk_sizes_follow_the_collection_unless_given(embedder: Qwen3Embedder, docs: Path) -> None:
    ingestor = make_ingestor(embedder)
    ingestor.ingest([docs])
    assert ingestor.store.read_chunking() == (16, 4)
    plain = Ingestor(ingestor.store, embedder, progress=False)  # no sizes: the collection's
    report = plain.ingest([docs])
    assert report.embedded == 0 and report.unchanged == report.chunks
    resized = Ingestor(ingestor.store, embedder, chunk_tokens=32, progress=False)
    assert resized.ingest([docs]).embedded > 0
    assert ingestor.store.read_chunking() == (32, 8)
    fresh = Ingestor(QdrantStore("f", location=":memory:"), embedder, progress=False)
    fresh.ingest([docs])
    assert fresh.store.read_chunking() == (512, 64)


def test_emptied_file_loses_all_its_chunks(embedder: Qwen3Embedder, docs: Path) -> None:
    ingestor = make_ingestor(embedder)
    ingestor.ingest([docs])
    (docs / "paris.txt").write_text("   \n", encoding="utf-8")
    ingestor.ingest([docs])
    assert not [p for p, _ in snapshot(ingestor.store).values() if p["source"].endswith("paris.txt")]


@pytest.mark.parametrize("fail_after", [0, 1, 3])
def test_interrupted_ingestion_rerun_ends_identical(
    embedder: Qwen3Embedder, docs: Path, fail_after: int
) -> None:
    reference = make_ingestor(embedder)
    reference.ingest([docs])

    ingestor = make_ingestor(embedder)
    upsert = ingestor.store.upsert
    done = {"n": 0}

    def crashing_upsert(points: Any) -> None:
        if done["n"] >= fail_after:
            raise KeyboardInterrupt("simulated crash")
        done["n"] += 1
        upsert(points)

    ingestor.store.upsert = crashing_upsert  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        ingestor.ingest([docs])
    ingestor.store.upsert = upsert  # type: ignore[method-assign]
    assert ingestor.store.count() < reference.store.count()
    ingestor.ingest([docs])
    assert_same(snapshot(reference.store), snapshot(ingestor.store))


def test_interrupted_reingest_of_edited_folder_rerun_ends_identical(
    embedder: Qwen3Embedder, docs: Path
) -> None:
    ingestor = make_ingestor(embedder)
    ingestor.ingest([docs])
    (docs / "paris.txt").write_text("Lyon is a city in France. " * 2, encoding="utf-8")
    (docs / "sub" / "fox.rst").write_text("The slow red fox sleeps under the tree. " * 12, encoding="utf-8")
    delete = ingestor.store.delete_ids

    def crash(ids: Any) -> None:
        raise RuntimeError("simulated crash")

    ingestor.store.delete_ids = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        ingestor.ingest([docs])
    ingestor.store.delete_ids = delete  # type: ignore[method-assign]
    ingestor.ingest([docs])
    fresh = make_ingestor(embedder)
    fresh.ingest([docs])
    assert_same(snapshot(fresh.store), snapshot(ingestor.store))


def test_unreadable_files_are_skipped_with_warnings_and_a_count(
    embedder: Qwen3Embedder, docs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (docs / "blob.dat").write_bytes(b"abc\x00\x01\x02")
    (docs / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (docs / ".hidden").write_text("not ingested", encoding="utf-8")
    ingestor = make_ingestor(embedder)
    with caplog.at_level(logging.WARNING):
        report = ingestor.ingest([docs, docs / "missing.txt"])
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(skipped) == {"image.png", "blob.dat", "latin1.txt", "broken.pdf", "missing.txt"}
    assert report.files == len(TEXTS)
    for name in skipped:  # each skipped file reported once, as it happens
        assert sum(name in r.getMessage() for r in caplog.records) == 1, name
    assert all(r.name.startswith("qwen3_rag") for r in caplog.records)  # pypdf's own noise stays out
    assert "skipped 5 files" in report.summary()


def test_pdf_text_is_ingested(embedder: Qwen3Embedder, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    from qwen3_rag.pipeline._loaders import read_document

    # A one-page PDF with a text object, written by hand (pypdf itself cannot add text).
    content = b"BT /F1 12 Tf 72 720 Td (Hello PDF world) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(bytes(out))
    assert pypdf.PdfReader(str(pdf)).pages
    doc = read_document(pdf)
    assert getattr(doc, "text", "").strip() == "Hello PDF world"
