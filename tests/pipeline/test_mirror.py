"""The collection mirrors the ingested folders: deletions, renames, removal, kills part-way.

Every outcome is compared with a fresh ingestion of the folder as it is now, into a new store:
same point ids, payloads and vectors, and the same source records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import Qwen3Embedder
from qwen3_rag.pipeline import Ingestor, QdrantStore
from qwen3_rag.pipeline._pruning import remove_sources, sources_under
from qwen3_rag.pipeline._sources import SourceRecord

pytestmark = pytest.mark.models  # every test here builds or loads a model

CHUNK_TOKENS, OVERLAP = 16, 4
Snapshot = dict[str, tuple[dict[str, Any], np.ndarray]]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def corpus(root: Path, n: int = 12) -> Path:
    return write(
        root,
        {
            f"part{i % 3}/doc{i:02d}.txt": f"Document {i} is about topic {i * 5 % 7}. " * (1 + i % 4)
            for i in range(n)
        },
    )


def ingest(embedder: Qwen3Embedder, store: QdrantStore, paths: list[Path], **options: Any) -> Any:
    ingestor = Ingestor(
        store, embedder, chunk_tokens=CHUNK_TOKENS, overlap=OVERLAP, batch_size=4, progress=False, **options
    )
    return ingestor.ingest(paths)


def snapshot(store: QdrantStore) -> Snapshot:
    return {p.id: (p.payload, np.asarray(p.dense)) for p in store.points(with_vectors=True)}


ENGINES = pytest.mark.parametrize("engine", ["edge", "local"])
"""Embedded folders on Qdrant Edge (the default) and in qdrant-client's local mode (older folders)."""


def records(store: QdrantStore) -> list[tuple[str, int, bool]]:
    return [(r.source, r.chunks, r.complete) for r in store.sources.all()]


def assert_mirrors_fresh(embedder: Qwen3Embedder, store: QdrantStore, paths: list[Path], tmp: Path) -> None:
    """``store`` holds exactly what a fresh ingestion of ``paths`` (as they are now) writes."""
    fresh = QdrantStore("t", path=tmp / "fresh-store")
    ingest(embedder, fresh, paths)
    expected, actual = snapshot(fresh), snapshot(store)
    assert sorted(actual) == sorted(expected)
    for pid, (payload, vector) in expected.items():
        assert actual[pid][0] == payload, pid
        np.testing.assert_allclose(actual[pid][1], vector, atol=1e-6, rtol=0)
    assert records(store) == records(fresh)
    assert store.chunk_counts() == {r.source: r.chunks for r in store.sources.all()}
    fresh.close()


@ENGINES
def test_deleted_renamed_and_edited_files_reingest_like_a_fresh_ingest(
    embedder: Qwen3Embedder, tmp_path: Path, engine: str
) -> None:
    docs = corpus(tmp_path / "docs")
    store = QdrantStore("t", path=tmp_path / "store", engine=engine)
    first = ingest(embedder, store, [docs])
    by_source = {r.source: r.chunks for r in store.sources.all()}
    assert len(by_source) == 12 and sum(by_source.values()) == first.chunks == store.count()

    deleted, renamed = docs / "part0/doc03.txt", docs / "part1/doc04.txt"
    gone = by_source[deleted.resolve().as_posix()] + by_source[renamed.resolve().as_posix()]
    deleted.unlink()
    renamed.rename(docs / "part2/renamed.txt")
    (docs / "part2/doc05.txt").write_text("Edited: much shorter now.", encoding="utf-8")
    (docs / "empty-folder").mkdir()

    report = ingest(embedder, store, [docs])
    assert (report.removed_files, report.removed_chunks) == (2, gone)
    assert "removed 2 files" in report.summary()
    assert_mirrors_fresh(embedder, store, [docs], tmp_path)

    again = ingest(embedder, store, [docs])  # and then a re-run is a no-op
    assert again.embedded == 0 and again.removed_files == 0
    store.close()


def test_other_roots_hidden_files_and_missing_roots_are_left_alone(
    embedder: Qwen3Embedder, tmp_path: Path
) -> None:
    a = write(tmp_path / "a", {"one.txt": "Alpha text one.", "sub/two.txt": "Alpha text two."})
    b = write(tmp_path / "b", {"three.txt": "Beta text three.", ".secret.txt": "Hidden but named."})
    ab = write(tmp_path / "ab", {"x.txt": "A folder whose name starts like another's."})
    store = QdrantStore("t", location=":memory:")
    ingest(embedder, store, [a, b, ab, b / ".secret.txt"])
    (b / "three.txt").unlink()
    (ab / "x.txt").unlink()

    ingest(embedder, store, [a])  # only a's sources are a's business: b/three.txt and ab/x.txt stay
    sources = {Path(r.source).name for r in store.sources.all()}
    assert sources == {"one.txt", "two.txt", "three.txt", ".secret.txt", "x.txt"}

    report = ingest(embedder, store, [b])  # b's walk never reaches hidden files: the named one stays
    assert report.removed_files == 1
    assert {Path(r.source).name for r in store.sources.all()} == {
        "one.txt",
        "two.txt",
        ".secret.txt",
        "x.txt",
    }

    report = ingest(embedder, store, [tmp_path / "not-mounted", a])  # a missing root prunes nothing
    assert report.removed_files == 0 and {s.reason for s in report.skipped} == {"no such file or folder"}
    assert len(store.sources.all()) == 4


def test_keep_missing_keeps_the_chunks_of_deleted_files(embedder: Qwen3Embedder, tmp_path: Path) -> None:
    docs = corpus(tmp_path / "docs", n=4)
    store = QdrantStore("t", location=":memory:")
    ingest(embedder, store, [docs])
    before = snapshot(store)
    (docs / "part0/doc00.txt").unlink()
    report = ingest(embedder, store, [docs], keep_missing=True)
    assert report.removed_files == 0 and snapshot(store).keys() == before.keys()


def test_source_records_list_chunks_and_times_and_are_rebuilt_for_older_collections(
    embedder: Qwen3Embedder, tmp_path: Path
) -> None:
    docs = corpus(tmp_path / "docs", n=5)
    store = QdrantStore("t", location=":memory:")
    ingest(embedder, store, [docs])
    listed = store.sources.all()
    assert [r.source for r in listed] == sorted(p.resolve().as_posix() for p in docs.rglob("*.txt"))
    assert all(r.complete and r.ingested_at and r.ingested_at.endswith("+00:00") for r in listed)
    assert {r.source: r.chunks for r in listed} == store.chunk_counts()
    unchanged = ingest(embedder, store, [docs])  # a no-op run rewrites no record
    assert unchanged.embedded == 0 and store.sources.all() == listed

    store.sources.drop()  # a collection written before the registry existed
    assert [(r.source, r.chunks) for r in store.sources.all()] == [(r.source, r.chunks) for r in listed]
    ingest(embedder, store, [docs])
    assert [(r.source, r.chunks) for r in store.sources.all()] == [(r.source, r.chunks) for r in listed]
    (docs / "part1/doc01.txt").unlink()  # and pruning works on the rebuilt registry
    assert ingest(embedder, store, [docs]).removed_files == 1


def test_remove_deletes_sources_under_a_path(embedder: Qwen3Embedder, tmp_path: Path) -> None:
    docs = corpus(tmp_path / "docs", n=6)
    store = QdrantStore("t", location=":memory:")
    ingest(embedder, store, [docs])
    part0 = (docs / "part0").resolve().as_posix()
    doomed = sources_under(store.sources.all(), [part0])
    assert len(doomed) == 2
    files, chunks = remove_sources(store, doomed)
    assert files == 2 and chunks == sum(r.chunks for r in doomed)
    assert all(not r.source.startswith(part0) for r in store.sources.all())
    assert all(not s.startswith(part0) for s in store.chunk_counts())
    # An incomplete record (a killed ingestion) is counted from its chunks.
    incomplete = SourceRecord((docs / "part1/doc01.txt").resolve().as_posix(), 0, None, complete=False)
    store.sources.put([incomplete])
    chunks_there = store.count_source(incomplete.source)
    assert chunks_there > 0 and remove_sources(store, [incomplete]) == (1, chunks_there)


KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    model, qdrant, docs, where, after, engine = sys.argv[1:7]
    embedder = Qwen3Embedder.load(model, device="cpu", dtype="float32")
    store = QdrantStore("t", path=qdrant, engine=engine)
    calls = 0

    def kill_after(method):
        def wrapped(*args, **kwargs):
            global calls
            result = method(*args, **kwargs)
            calls += 1
            print(where, calls, flush=True)
            if calls == int(after):
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush, no lock release
            return result
        return wrapped

    if where == "delete_source":
        store.delete_source = kill_after(store.delete_source)
    else:
        store.upsert = kill_after(store.upsert)
    Ingestor(store, embedder, chunk_tokens=16, overlap=4, batch_size=4, progress=False).ingest([docs])
    print("finished", flush=True)
    """
)


def run_killed(model: str, store: Path, docs: Path, where: str, after: int, engine: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, model, str(store), str(docs), where, str(after), engine],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert f"{where} {after}" in child.stdout and "finished" not in child.stdout


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
@ENGINES
def test_sigkill_while_pruning_then_rerun_ends_like_a_fresh_ingest(
    embedder: Qwen3Embedder, tiny_embedding_path: str, tmp_path: Path, engine: str
) -> None:
    docs = corpus(tmp_path / "docs", n=12)
    store_path = tmp_path / "store"
    store = QdrantStore("t", path=store_path, engine=engine)
    ingest(embedder, store, [docs])
    store.close()
    for i in range(0, 12, 2):  # half the files go: six removals, killed after the third
        next(docs.glob(f"part*/doc{i:02d}.txt")).unlink()

    run_killed(tiny_embedding_path, store_path, docs, "delete_source", 3, engine)
    store = QdrantStore("t", path=store_path)
    # Killed after the third source's chunks went, before its record: records go after chunks,
    # so that record is still there, now without chunks, and the re-run finishes it.
    assert len(store.sources.all()) == 12 - 2 and len(store.chunk_counts()) == 12 - 3
    report = ingest(embedder, store, [docs])
    assert report.removed_files == 4 and report.embedded == 0
    assert_mirrors_fresh(embedder, store, [docs], tmp_path)
    store.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
@ENGINES
def test_file_deleted_after_a_killed_first_ingest_leaves_nothing_behind(
    embedder: Qwen3Embedder, tiny_embedding_path: str, tmp_path: Path, engine: str
) -> None:
    docs = write(
        tmp_path / "docs", {"big.txt": "Many words about many topics here. " * 40, "small.txt": "Small."}
    )
    store_path = tmp_path / "store"
    run_killed(tiny_embedding_path, store_path, docs, "upsert", 2, engine)  # big.txt half written
    store = QdrantStore("t", path=store_path)
    partial = {r.source: r for r in store.sources.all()}
    big = (docs / "big.txt").resolve().as_posix()
    assert not partial[big].complete and store.count_source(big) == 8  # two batches of four
    (docs / "big.txt").unlink()
    report = ingest(embedder, store, [docs])
    assert report.removed_files == 1 and report.removed_chunks == 8
    assert_mirrors_fresh(embedder, store, [docs], tmp_path)
    store.close()
