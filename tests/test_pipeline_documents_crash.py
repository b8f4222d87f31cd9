"""``ingest_documents`` killed part-way (SIGKILL: no cleanup, no flush), then run again: the same
collection as an uninterrupted run, as tests/test_pipeline_ingest_failures.py shows for files.

Two kills: mid-write of a first ingestion, and mid-removal of a re-ingestion that edits documents
and drops some under ``remove_missing_under``. Both on Qdrant Edge and qdrant-client local mode.
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
from qwen3_rag.pipeline import Ingestor, QdrantStore, SourceDocument

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
ENGINES = pytest.mark.parametrize("engine", ["edge", "local"])

# The documents, as code both this test and the killed child run: version 1, and version 2 (edited,
# metadata changed, every third one gone).
MAKE_DOCS = textwrap.dedent(
    """
    from qwen3_rag.pipeline import SourceDocument

    def make_docs(version):
        docs = []
        for i in range(24):
            if version == 2 and i % 3 == 0:
                continue
            words = f"Document {i} talks about subject {i * 7 % 5} at length. " * (1 + i % 5)
            if version == 2 and i % 3 == 1:
                words = f"Edited {i}: shorter."
            team = ["ops", "dev", "hr"][i % 3] if version == 1 else "all"
            docs.append(SourceDocument(f"db/{i:02d}", words, {"team": team, "n": i}))
        return docs
    """
)
namespace: dict[str, Any] = {}
exec(MAKE_DOCS, namespace)
make_docs = namespace["make_docs"]

CHILD = MAKE_DOCS + textwrap.dedent(
    """
    import itertools, os, signal, sys
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    model, qdrant, engine, version, where, after = sys.argv[1:7]
    embedder = Qwen3Embedder.load(model, device="cpu", dtype="float32")
    store = QdrantStore("t", path=qdrant, engine=engine)
    real, calls = getattr(store, where), itertools.count(1)

    def killing(*args, **kwargs):  # the call, then SIGKILL after the chosen one: no cleanup, no flush
        result, call = real(*args, **kwargs), next(calls)
        print(where, call, flush=True)
        if call == int(after):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(store, where, killing)
    ingestor = Ingestor(store, embedder, chunk_tokens=16, overlap=4, batch_size=4, progress=False)
    ingestor.ingest_documents(make_docs(int(version)), remove_missing_under="db/")
    print("finished", flush=True)
    """
)


@pytest.fixture
def embedder(tiny_embedder: Qwen3Embedder) -> Qwen3Embedder:
    return tiny_embedder


def ingest(embedder: Qwen3Embedder, store: QdrantStore, version: int) -> Any:
    ingestor = Ingestor(store, embedder, chunk_tokens=16, overlap=4, batch_size=4, progress=False)
    return ingestor.ingest_documents(make_docs(version), remove_missing_under="db/")


def run_killed(model: str, store: Path, engine: str, version: int, where: str, after: int) -> None:
    argv = [sys.executable, "-c", CHILD, model, str(store), engine, str(version), where, str(after)]
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    child = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **offline}, timeout=180)
    killed = (child.returncode, f"{where} {after}" in child.stdout, "finished" in child.stdout)
    assert killed == (-signal.SIGKILL, True, False), child.stderr


def assert_like_fresh(
    embedder: Qwen3Embedder, store: QdrantStore, version: int, tmp: Path, engine: str
) -> None:
    fresh = QdrantStore("t", path=tmp / f"fresh-{version}", engine=engine)
    ingest(embedder, fresh, version)
    expected = {p.id: (p.payload, np.asarray(p.dense)) for p in fresh.points(with_vectors=True)}
    actual = {p.id: (p.payload, np.asarray(p.dense)) for p in store.points(with_vectors=True)}
    assert sorted(actual) == sorted(expected)
    for pid, (payload, vector) in expected.items():
        assert actual[pid][0] == payload, pid
        np.testing.assert_allclose(actual[pid][1], vector, atol=1e-6, rtol=0)
    listed = [(r.source, r.chunks, r.complete, r.kind) for r in store.sources.all()]
    assert listed == [(r.source, r.chunks, r.complete, r.kind) for r in fresh.sources.all()]
    fresh.close()


@ENGINES
def test_sigkill_mid_first_ingestion_then_rerun_ends_identical(
    embedder: Qwen3Embedder, tiny_embedding_path: str, tmp_path: Path, engine: str
) -> None:
    path = tmp_path / "store"
    run_killed(tiny_embedding_path, path, engine, 1, "upsert", 5)  # five batches of four written
    store = QdrantStore("t", path=path)
    assert store.count() == 5 * 4
    assert any(not r.complete for r in store.sources.all())  # the document being written when killed
    report = ingest(embedder, store, 1)
    assert report.unchanged == 20 and report.embedded == report.chunks - 20
    assert_like_fresh(embedder, store, 1, tmp_path, engine)
    assert ingest(embedder, store, 1).embedded == 0  # and a further run changes nothing
    store.close()


@ENGINES
def test_sigkill_while_replacing_and_removing_documents_then_rerun_ends_identical(
    embedder: Qwen3Embedder, tiny_embedding_path: str, tmp_path: Path, engine: str
) -> None:
    with QdrantStore("t", path=tmp_path / "store", engine=engine) as first:
        ingest(embedder, first, 1)
    # Version 2 removes 8 documents: killed after the third one's chunks went, before its record.
    run_killed(tiny_embedding_path, tmp_path / "store", engine, 2, "delete_source", 3)
    with QdrantStore("t", path=tmp_path / "store") as store:
        assert (len(store.chunk_counts()), len(store.sources.all())) == (24 - 3, 24 - 2)
        report = ingest(embedder, store, 2)
        assert report.removed_documents == 8 - 2 and report.embedded == 0  # the third one's record too
        assert_like_fresh(embedder, store, 2, tmp_path, engine)


def test_the_documents_both_tests_use_are_what_they_say() -> None:
    first, second = make_docs(1), make_docs(2)
    assert len(first) == 24 and len(second) == 16 and all(isinstance(d, SourceDocument) for d in second)
