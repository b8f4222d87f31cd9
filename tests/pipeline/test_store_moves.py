"""Moving a store without re-embedding: ``store upgrade`` (local mode -> Qdrant Edge, crash-safe)
and ``store push`` (a store -> a server; resumable, idempotent by point id).

No Qdrant server can be installed on these machines: the push target is qdrant-client's
``":memory:"`` engine, which runs the same client calls a server gets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from qwen3_rag import CollectionMismatchError, InvalidOptionError
from qwen3_rag._cli import main
from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore, build_filter
from qwen3_rag.pipeline._layout import chunk_payload, point_id
from qwen3_rag.pipeline._push import push
from qwen3_rag.pipeline._sources import SourceRecord
from qwen3_rag.pipeline._upgrade import upgrade_folder

# Each test copies or upgrades a whole store of hundreds of points, several in subprocesses.
pytestmark = pytest.mark.slow

DIM = 8
SPEC = EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", DIM, fingerprint="f00d")
SOURCES = [f"/docs/file{i:02d}.md" for i in range(12)]


def fill(store: QdrantStore, n: int = 600, seed: int = 7) -> None:
    """``n`` chunks spread over 12 sources: random unit vectors, a few sparse terms each."""
    rng = np.random.default_rng(seed)
    store.ensure(SPEC)
    store.record_chunking(64, 8)
    per_source: dict[str, int] = {}
    ids, payloads, dense, sparse = [], [], [], []
    for i in range(n):
        source = SOURCES[i % len(SOURCES)]
        index = per_source.get(source, 0)
        per_source[source] = index + 1
        ids.append(point_id(source, index))
        payloads.append(chunk_payload(source, index, f"chunk {i} of {source}"))
        vector = rng.normal(size=DIM)
        dense.append((vector / np.linalg.norm(vector)).tolist())
        terms = sorted({int(t) for t in rng.integers(0, 50, size=3)})
        weights = [round(float(w), 3) for w in rng.uniform(0.5, 2.0, size=len(terms))]  # no ties in rank
        sparse.append(models.SparseVector(indices=terms, values=weights))
    store.sources.put([SourceRecord(s, c, "2026-01-01T00:00:00+00:00") for s, c in per_source.items()])
    for start in range(0, n, 100):
        end = start + 100
        store.upsert_chunks(ids[start:end], payloads[start:end], dense[start:end], sparse[start:end])


QUERIES = [np.random.default_rng(s).normal(size=DIM).tolist() for s in range(5)]
TERMS = models.SparseVector(indices=[3, 17], values=[1.0, 0.7])


def answers(store: QdrantStore) -> list[list[str]]:
    """Ids, in order, for dense, hybrid and filtered queries."""
    where = build_filter({"source": SOURCES[:3]})
    out = []
    for q in QUERIES:
        out.append([h.id for h in store.query(q, limit=20)])
        out.append([h.id for h in store.query(q, limit=20, sparse=TERMS)])
        out.append([h.id for h in store.query(q, limit=10, query_filter=where)])
    return out


def state(store: QdrantStore) -> tuple[object, ...]:
    """Payloads, vectors, metadata and registry: compare two with :func:`same`."""
    points = {p.id: (p.payload, list(p.sparse.indices), p.sparse.values, p.dense) for p in store.points()}
    return points, store.read_spec(), store.read_chunking(), store.sources.all(), store.chunk_counts()


def same(one: tuple[object, ...], other: tuple[object, ...]) -> bool:
    """Equal, vector values to 1e-6 (engines keep float32; local mode gives float64 back)."""
    first, second = one[0], other[0]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert one[1:] == other[1:] and first.keys() == second.keys()
    for key, (payload, indices, values, dense) in first.items():
        assert (payload, indices) == second[key][:2], key
        assert np.allclose(values, second[key][2], atol=1e-6) and np.allclose(
            dense, second[key][3], atol=1e-6
        )
    return True


def local_mode_store(folder: Path) -> tuple[list[list[str]], tuple[object, ...]]:
    """A store as earlier versions made it, and what it answers."""
    with QdrantStore("docs", path=folder, engine="local") as store:
        fill(store)
        return answers(store), state(store)


# ----------------------------------------------------------------------------- upgrade
def test_upgrade_keeps_every_point_and_answers_the_same_queries_in_the_same_order(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    before, held = local_mode_store(folder)
    with QdrantStore("docs", path=folder) as opened:  # still works as it is, in local mode
        assert opened.engine.name == "qdrant-client" and answers(opened) == before
    lines: list[str] = []
    report = upgrade_folder(folder, say=lines.append)
    assert report.collections == {"docs": 600, "docs__sources": 12}
    assert lines[-1].startswith("docs__sources: 12/12")
    with QdrantStore("docs", path=folder, create=False) as upgraded:
        assert upgraded.engine.name == "qdrant-edge"
        assert answers(upgraded) == before
        assert same(state(upgraded), held)
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "collections", "qwen3-rag-store.json"]
    with pytest.raises(InvalidOptionError, match="already a Qdrant Edge store"):
        upgrade_folder(folder)


def test_upgrade_refuses_collections_qwen3_rag_did_not_make(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    local_mode_store(folder)
    client = QdrantClient(path=str(folder))
    client.create_collection(
        "theirs", vectors_config=models.VectorParams(size=4, distance=models.Distance.DOT)
    )
    client.close()
    with pytest.raises(InvalidOptionError, match=r"not made by qwen3-rag \(theirs"):
        upgrade_folder(folder)
    with QdrantStore("docs", path=folder) as still:
        assert still.engine.name == "qdrant-client" and still.count() == 600


KILLED_UPGRADE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from qwen3_rag.pipeline import _copying, _upgrade

    folder, stage = Path(sys.argv[1]), sys.argv[2]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if stage == "mid-copy":
        real = _copying.copy_points
        def copy_then_die(source, target, name, **kw):
            if name == "docs__sources":
                die()
            return real(source, target, name, **kw)
        _upgrade.copy_points = copy_then_die
    elif stage == "before-switch":
        real_write = _upgrade.layout.write_json
        def write_then_die(path, data):
            if path.name == "qwen3-rag-store.json" and path.parent == folder:
                die()
            real_write(path, data)
        _upgrade.layout.write_json = write_then_die
    elif stage == "after-switch":
        _upgrade._remove_local_mode_files = die
    _upgrade.upgrade_folder(folder)
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
@pytest.mark.parametrize(
    ("stage", "engine"),
    [("mid-copy", "qdrant-client"), ("before-switch", "qdrant-client"), ("after-switch", "qdrant-edge")],
)
def test_a_killed_upgrade_leaves_a_working_store_and_runs_again(
    tmp_path: Path, stage: str, engine: str
) -> None:
    folder = tmp_path / "q"
    before, held = local_mode_store(folder)
    child = subprocess.run(
        [sys.executable, "-c", KILLED_UPGRADE, str(folder), stage],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with QdrantStore("docs", path=folder, create=False) as survivor:
        assert survivor.engine.name == engine
        assert answers(survivor) == before and same(state(survivor), held)
    if engine == "qdrant-client":
        upgrade_folder(folder)
    else:  # switched already: a re-run only clears what the killed run left
        with pytest.raises(InvalidOptionError, match="already"):
            upgrade_folder(folder)
    assert not (folder / "meta.json").exists() and not (folder / ".upgrade").exists()
    with QdrantStore("docs", path=folder, create=False) as upgraded:
        assert upgraded.engine.name == "qdrant-edge"
        assert answers(upgraded) == before and same(state(upgraded), held)


def test_a_local_mode_folder_opens_with_a_one_line_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    local_mode_store(tmp_path / "q")
    with caplog.at_level("WARNING", logger="qwen3_rag"), QdrantStore("docs", path=tmp_path / "q"):
        pass
    notices = [r.getMessage() for r in caplog.records]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert "local mode" in notices[0] and "qwen3-rag store upgrade" in notices[0]


# ----------------------------------------------------------------------------- push
def test_push_then_the_target_answers_like_the_source_and_resumes_idempotently(tmp_path: Path) -> None:
    source = QdrantStore("docs", path=tmp_path / "edge")
    fill(source)
    server = QdrantClient(location=":memory:")  # stands in for a server: no Qdrant binary here
    target = QdrantStore("docs", client=server)

    progress: list[int] = []

    def interrupt(done: int, total: int) -> None:
        progress.append(done)
        if len(progress) == 2:
            raise KeyboardInterrupt  # the network dropped, or the user pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        push(source, target, progress=interrupt)
    assert target.count() == 512 and not any(r.complete for r in target.sources.all())

    report = push(source, target)
    assert (report.copied, report.skipped, report.deleted, report.sources) == (88, 512, 0, 12)
    assert answers(target) == answers(source)
    assert same(state(target), state(source))
    assert target.read_metadata() == source.read_metadata()

    again = push(source, target)  # nothing new: nothing sent
    assert (again.copied, again.skipped) == (0, 600)

    source.delete_source(SOURCES[0])  # the source moved on: the target follows
    source.sources.delete([SOURCES[0]])
    mirrored = push(source, target)
    assert mirrored.deleted == 50 and mirrored.copied == 0
    assert same(state(target), state(source))
    source.close()  # Edge counts deleted points in its IDF statistics until the shard reopens
    with QdrantStore("docs", path=tmp_path / "edge") as reopened:
        assert answers(target) == answers(reopened)


def test_push_refuses_a_target_collection_of_another_model(tmp_path: Path) -> None:
    source = QdrantStore("docs", path=tmp_path / "edge")
    fill(source, n=20)
    target = QdrantStore("docs", location=":memory:")
    target.ensure(EmbeddingSpec("Qwen/Qwen3-Embedding-4B", DIM))
    with pytest.raises(CollectionMismatchError):
        push(source, target)
    assert target.count() == 0
    source.close()


# ----------------------------------------------------------------------------- the command
def test_store_commands_info_upgrade_and_a_push_to_an_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import socket

    folder = tmp_path / "q"
    local_mode_store(folder)

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return main(list(argv), stdout=out), out.getvalue()

    code, out = run("store", "info", "--qdrant-path", str(folder), "--collection", "docs")
    assert code == 0 and "qdrant-client" in out and "600 chunks" in out and "12 sources" in out
    code, out = run("store", "upgrade", "--qdrant-path", str(folder))
    assert code == 0 and "upgraded" in out and "docs (600 points)" in out
    code, out = run("store", "info", "--qdrant-path", str(folder), "--collection", "docs")
    assert code == 0 and "qdrant-edge" in out and "600 chunks" in out

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    capsys.readouterr()
    code, _ = run(
        "store",
        "push",
        "--qdrant-path",
        str(folder),
        "--collection",
        "docs",
        "--to-url",
        f"http://127.0.0.1:{port}",
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("qwen3-rag: error: Could not reach")
    assert os.path.isdir(folder / "collections")


# ----------------------------------------------------------------------------- the index
def test_the_index_is_built_once_past_the_size_and_search_answers_alike(tmp_path: Path) -> None:
    lines: list[str] = []
    with QdrantStore("docs", path=tmp_path / "edge") as store:
        fill(store)
        exact = answers(store)
        assert not store.build_index(min_points=1_000, say=lines.append) and lines == []  # too small
        assert store.build_index(min_points=500, say=lines.append)
        assert lines[0].startswith("qwen3-rag: indexing 600 chunks of 'docs'") and "indexed" in lines[1]
        assert store.engine.shard("docs").info().indexed_vectors_count == 1200  # dense (HNSW) + sparse
        assert not store.build_index(min_points=500)  # nothing new to index
        assert answers(store) == exact  # HNSW on 600 points: the same neighbours
    with QdrantStore("docs", path=tmp_path / "edge") as again:
        assert answers(again) == exact and again.count() == 600
    local = QdrantStore("docs", location=":memory:")
    fill(local, n=20)
    assert not local.build_index(min_points=1)  # qdrant-client engines index by themselves, or never
