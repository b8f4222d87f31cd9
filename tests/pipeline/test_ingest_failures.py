"""Ingestion under faults and bad input: SIGKILL mid-ingest and failed Qdrant batches (each
injected for real, a killed subprocess or a client upsert that raises, and compared with an
uninterrupted ingestion: same ids, count, payloads and vectors), then a table of bad files and
bad options, each with its expected outcome.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import InvalidOptionError, Qwen3Embedder
from qwen3_rag._errors import StoreConnectionError
from qwen3_rag.pipeline import Ingestor, QdrantStore
from qwen3_rag.pipeline._layout import point_id

pytestmark = pytest.mark.models  # every test here builds or loads a model

CHUNK_TOKENS, OVERLAP = 16, 4
Snapshot = dict[str, tuple[dict[str, Any], np.ndarray]]


def write_corpus(root: Path, n: int = 40) -> Path:
    """``n`` files of 1 to 4 chunks each (at 16 tokens a chunk), in two folders."""
    for i in range(n):
        path = root / f"group{i % 2}" / f"doc{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Document {i} talks about topic {i * 7 % 13}. " * (1 + i % 4), encoding="utf-8")
    return root


def make_ingestor(embedder: Qwen3Embedder, store: QdrantStore | None = None, batch_size: int = 4) -> Ingestor:
    store = store or QdrantStore("t", location=":memory:")
    return Ingestor(
        store, embedder, chunk_tokens=CHUNK_TOKENS, overlap=OVERLAP, batch_size=batch_size, progress=False
    )


def snapshot(store: QdrantStore) -> Snapshot:
    return {p.id: (p.payload, np.asarray(p.dense)) for p in store.points(with_vectors=True)}


def assert_identical(expected: Snapshot, actual: Snapshot, atol: float = 1e-6) -> None:
    assert sorted(actual) == sorted(expected)  # ids, hence count
    for pid, (payload, vector) in expected.items():
        assert actual[pid][0] == payload, pid
        np.testing.assert_allclose(actual[pid][1], vector, atol=atol, rtol=0)


# --------------------------------------------------------------------------- SIGKILL mid-ingest

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    model, qdrant, docs, kill_after, engine = sys.argv[1:6]
    kill_after = int(kill_after)
    embedder = Qwen3Embedder.load(model, device="cpu", dtype="float32")
    store = QdrantStore("t", path=qdrant, engine=engine)
    batches = 0

    def on_batch(count):
        global batches
        batches += 1
        print("batch", batches, count, flush=True)
        if batches == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no flush, no lock release

    Ingestor(store, embedder, chunk_tokens=16, overlap=4, batch_size=4, progress=False).ingest(
        [docs], on_batch=on_batch
    )
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
@pytest.mark.parametrize("engine", ["edge", "local"])
def test_sigkill_mid_ingestion_then_rerun_ends_identical(
    embedder: Qwen3Embedder, tiny_embedding_path: str, tmp_path: Path, engine: str
) -> None:
    docs = write_corpus(tmp_path / "docs")
    reference_store = QdrantStore("t", path=tmp_path / "reference", engine=engine)
    reference = make_ingestor(embedder, reference_store).ingest([docs])
    expected = snapshot(reference_store)
    reference_store.close()
    assert reference.files == 40 and len(expected) == reference.chunks > 60

    killed_path = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, tiny_embedding_path, str(killed_path), str(docs), "5", engine],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "batch 5 4" in child.stdout and "finished" not in child.stdout

    # The folder lock died with the process: it opens, and holds exactly the 5 batches written.
    store = QdrantStore("t", path=killed_path)
    assert store.engine.name == ("qdrant-edge" if engine == "edge" else "qdrant-client")
    partial = snapshot(store)
    assert len(partial) == 5 * 4
    for pid, (payload, vector) in partial.items():  # what was written is already final
        assert payload == expected[pid][0]
        np.testing.assert_allclose(vector, expected[pid][1], atol=1e-6, rtol=0)

    report = make_ingestor(embedder, store).ingest([docs])
    assert report.unchanged == 20 and report.embedded == reference.chunks - 20
    assert_identical(expected, snapshot(store))
    assert store.count() == len(expected)

    again = make_ingestor(embedder, store).ingest([docs])  # and a further run changes nothing
    assert again.embedded == 0 and again.unchanged == reference.chunks
    assert_identical(expected, snapshot(store))
    store.close()


# --------------------------------------------------------------------------- failed Qdrant batches


@pytest.mark.parametrize(
    ("fail_on", "written_first", "error"),
    [
        (1, False, RuntimeError("injected: upsert rejected")),
        (3, False, RuntimeError("injected: upsert rejected")),
        (3, True, TimeoutError("injected: timed out after the write")),  # applied, then failed
        (6, False, ConnectionError("injected: connection reset")),
    ],
    ids=["first-batch", "third-batch", "third-batch-written-then-timeout", "sixth-batch-connection-lost"],
)
def test_failed_upsert_batch_raises_and_rerun_completes_identically(
    embedder: Qwen3Embedder, tmp_path: Path, fail_on: int, written_first: bool, error: Exception
) -> None:
    docs = write_corpus(tmp_path / "docs", n=12)
    reference = make_ingestor(embedder)
    reference.ingest([docs])
    expected = snapshot(reference.store)

    ingestor = make_ingestor(embedder)
    client = ingestor.store.client
    real_upsert = client.upsert
    calls = {"n": 0}
    batches_reported: list[int] = []

    def flaky_upsert(*args: Any, **kwargs: Any) -> Any:
        if args[0] != ingestor.store.collection:  # the source registry's writes are not batches
            return real_upsert(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == fail_on:
            if written_first:
                real_upsert(*args, **kwargs)
            raise error
        return real_upsert(*args, **kwargs)

    client.upsert = flaky_upsert
    expected_type: type[Exception] = (
        StoreConnectionError if isinstance(error, ConnectionError | TimeoutError) else type(error)
    )
    with pytest.raises(expected_type, match="injected"):
        ingestor.ingest([docs], on_batch=batches_reported.append)
    # Never claims success for the failed batch: only the batches before it were reported.
    assert len(batches_reported) == fail_on - 1
    stored = ingestor.store.count()
    assert stored == 4 * (fail_on - 1) + (4 if written_first else 0) < len(expected)

    client.upsert = real_upsert
    report = ingestor.ingest([docs])
    assert report.unchanged == stored
    assert_identical(expected, snapshot(ingestor.store))


# --------------------------------------------------------------------------- bad input: ingestion

UNICODE = (
    "東京は日本の首都です。 北京是中国的首都。 Emoji 🚀🔥👩‍👩‍👧‍👦 flags 🇫🇷. "
    "עברית מימין לשמאל، والعربية أيضاً. Combining: e\u0301 a\u0300 n\u0303 Z\u0351\u0337a\u0364\u0310. "
)
CONTROL = "tab\there\x01\x02 bell\x07 esc\x1b[31mred\x1b[0m del\x7f zwsp\u200b rlo\u202e nbsp\u00a0 end"


def _expect_text(files: dict[str, bytes | str], skipped: set[str], *, chunks: int | None = None) -> Any:
    return {"files": files, "skipped": skipped, "chunks": chunks}


INGEST_CASES: dict[str, dict[str, Any]] = {
    # Nothing to do is not an error: 0 files, 0 chunks, and no collection created (nothing to store).
    "empty-folder": _expect_text({}, set(), chunks=0),
    # Binary without NUL bytes (high bytes only): skipped as not UTF-8, not ingested as garbage.
    "binary-without-nul": _expect_text({"a.txt": "ok text", "blob": bytes(range(128, 256)) * 4}, {"blob"}),
    # Invalid UTF-8 far past the sniffed prefix: still caught, with the offset.
    "invalid-utf8-late": _expect_text({"late.txt": b"fine " * 3000 + b"\xff\xfe tail"}, {"late.txt"}),
    # A UTF-8 BOM is dropped, not stored as text.
    "utf8-bom": _expect_text({"bom.txt": "\ufeffhello with bom".encode()}, set(), chunks=1),
    "whitespace-only": _expect_text({"blank.txt": " \n\t\r\n  \u3000\n", "a.txt": "text"}, set(), chunks=1),
    "empty-file": _expect_text({"empty.txt": b"", "a.txt": "text"}, set(), chunks=1),
    # Duplicates are kept apart by source: two files, two sets of ids, same vectors.
    "duplicate-documents": _expect_text({"one.txt": "same words", "two.txt": "same words"}, set(), chunks=2),
    "many-tiny-documents": _expect_text(
        {f"t/{i:03d}.txt": f"tiny {i}" for i in range(300)}, set(), chunks=300
    ),
    "unicode-cjk-emoji-rtl-combining": _expect_text({"u.txt": UNICODE * 3}, set()),
    "control-characters": _expect_text({"c.txt": CONTROL * 2}, set()),
    "unicode-file-name": _expect_text({"文档 ü 🚀.txt": "named in unicode"}, set(), chunks=1),
}


@pytest.mark.parametrize("case", list(INGEST_CASES), ids=list(INGEST_CASES))
def test_bad_input_ingestion_table(embedder: Qwen3Embedder, tmp_path: Path, case: str) -> None:
    spec = INGEST_CASES[case]
    root = tmp_path / "docs"
    root.mkdir()
    originals: dict[str, str] = {}
    for name, content in spec["files"].items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
            originals[path.resolve().as_posix()] = content
        else:
            path.write_bytes(content)
            with contextlib.suppress(UnicodeDecodeError):  # undecodable files are skipped
                originals[path.resolve().as_posix()] = content.decode("utf-8-sig")
    ingestor = make_ingestor(embedder, batch_size=64)
    report = ingestor.ingest([root])
    assert {Path(s.path).name for s in report.skipped} == spec["skipped"]
    assert report.files == len(spec["files"]) - len(spec["skipped"])
    if spec["chunks"] is not None:
        assert report.chunks == spec["chunks"]
    if not report.files:
        assert not ingestor.store.exists()  # a run that stores nothing creates nothing
        return
    snap = snapshot(ingestor.store)
    assert ingestor.store.count() == len(snap) == report.chunks == report.embedded
    by_source: dict[str, list[tuple[int, str]]] = {}
    for pid, (payload, vector) in snap.items():
        assert pid == point_id(payload["source"], payload["chunk_index"])
        assert np.all(np.isfinite(vector)) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
        by_source.setdefault(payload["source"], []).append((payload["chunk_index"], payload["text"]))
    for source, chunks in by_source.items():
        chunks.sort()
        assert [i for i, _ in chunks] == list(range(len(chunks)))
        original = originals[source]
        position = 0
        for _, text in chunks:  # every chunk is an exact slice of the file's text, in order
            found = original.find(text, max(0, position - len(text)))
            assert found >= 0, (source, text)
            position = found + len(text)
        assert original.rstrip().endswith(chunks[-1][1])
    if case == "duplicate-documents":
        (a, va), (b, vb) = snap.values()
        assert a["text"] == b["text"] and a["source"] != b["source"]
        np.testing.assert_allclose(va, vb, atol=1e-6)
    again = make_ingestor(embedder, ingestor.store).ingest([root])
    assert again.embedded == 0 and again.unchanged == report.chunks


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"chunk_tokens": 0}, "chunk_tokens must be a positive integer"),
        ({"chunk_tokens": -8}, "chunk_tokens must be a positive integer"),
        ({"chunk_tokens": 2.5}, "chunk_tokens must be a positive integer"),
        ({"overlap": -1}, "overlap must be an integer"),
        ({"chunk_tokens": 8, "overlap": 8}, "overlap must be an integer"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -3}, "batch_size"),
        ({"batch_size": 1.5}, "batch_size"),
    ],
    ids=[
        "chunk_tokens-zero",
        "chunk_tokens-negative",
        "chunk_tokens-float",
        "overlap-negative",
        "overlap-not-below-chunk",
        "batch_size-zero",
        "batch_size-negative",
        "batch_size-float",
    ],
)
def test_bad_ingest_options_are_clear_errors(
    embedder: Qwen3Embedder, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    store = QdrantStore("t", location=":memory:")
    (tmp_path / "a.txt").write_text("some text to ingest", encoding="utf-8")
    with pytest.raises(InvalidOptionError, match=message):
        Ingestor(store, embedder, progress=False, **options).ingest([tmp_path])
    assert not store.exists() or store.count() == 0  # nothing written under a rejected option


# --------------------------------------------------------------------------- bad input: retrieval
