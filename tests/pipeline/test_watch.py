"""``ingest --watch``: created, edited, renamed and deleted files mirrored, as a fresh ingest would."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import Qwen3Embedder
from qwen3_rag.pipeline import Ingestor, QdrantStore
from qwen3_rag.pipeline._store import DENSE_VECTOR
from qwen3_rag.pipeline._watch import ChangeBatch, watch_and_mirror

pytestmark = pytest.mark.models  # every test here builds or loads a model

pytest.importorskip("watchfiles", reason="--watch needs the watch extra (in the test extra)")

WAIT = 60.0  # seconds: every wait is bounded; a shared CI machine can be slow


def snapshot(store: QdrantStore) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    points, _ = store.client.scroll(store.collection, limit=10_000, with_payload=True, with_vectors=True)
    return {str(p.id): (p.payload, np.asarray(p.vector[DENSE_VECTOR])) for p in points}


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_watch_mirrors_created_edited_renamed_deleted_files(tmp_path: Path, tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "edited.txt").write_text("Paris is the capital of France. " * 5, encoding="utf-8")
    (docs / "guide.md").write_text("# Guide\n\nTo be deleted. " * 4, encoding="utf-8")
    (docs / "sub" / "old-name.txt").write_text("The quick brown fox. " * 6, encoding="utf-8")
    store = QdrantStore("w", location=":memory:")
    Ingestor(store, embedder, chunk_tokens=16, overlap=4, progress=False).ingest([docs])

    batches: queue.Queue[ChangeBatch] = queue.Queue()
    stop = threading.Event()
    watcher = Ingestor(store, embedder, progress=False, keep_missing=True, batch_size=3)
    thread = threading.Thread(
        target=watch_and_mirror,
        args=(watcher, [docs]),
        kwargs={"on_batch": batches.put, "stop_event": stop, "debounce_ms": 300},
        daemon=True,
    )
    thread.start()
    try:
        # The watcher starts asynchronously: touch a probe file until a batch shows it is listening.
        probe = docs / "probe.txt"
        deadline = time.monotonic() + WAIT
        while True:
            probe.write_text(f"probe {time.monotonic()}", encoding="utf-8")
            try:
                batches.get(timeout=1.0)
                break
            except queue.Empty:
                assert time.monotonic() < deadline, "the watcher never reported a change"
        probe.unlink()
        wait_for(
            lambda: not any(r.source.endswith("probe.txt") for r in store.sources.all()), "probe removed"
        )

        (docs / "created.txt").write_text("Berlin is the capital of Germany. " * 5, encoding="utf-8")
        (docs / "edited.txt").write_text("Madrid is the capital of Spain. " * 9, encoding="utf-8")
        (docs / "sub" / "old-name.txt").rename(docs / "sub" / "new-name.txt")
        (docs / "guide.md").unlink()
        (docs / ".hidden.txt").write_text("never ingested", encoding="utf-8")

        def mirrored() -> bool:
            sources = {Path(r.source).name for r in store.sources.all() if r.complete}
            texts = " ".join(p["text"] for p, _ in snapshot(store).values())
            return sources == {"created.txt", "edited.txt", "new-name.txt"} and "Paris" not in texts

        wait_for(mirrored, "the four changes to be mirrored")
    finally:
        stop.set()
        thread.join(timeout=WAIT)
    assert not thread.is_alive(), "the watcher did not stop on its stop event"

    fresh = QdrantStore("fresh", location=":memory:")
    Ingestor(fresh, embedder, chunk_tokens=16, overlap=4, progress=False).ingest([docs])
    got, want = snapshot(store), snapshot(fresh)
    assert got.keys() == want.keys()
    for pid in want:
        assert got[pid][0] == want[pid][0]
        np.testing.assert_allclose(got[pid][1], want[pid][1], atol=1e-5)
    summaries = []
    while not batches.empty():
        summaries.append(batches.get().summary())
    assert summaries and all(re.match(r"\d+ changes?: ", s) for s in summaries)


def test_cli_watch_prints_a_line_per_batch_and_exits_cleanly_on_ctrl_c(
    tmp_path: Path, tiny_embedding_path: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Paris is the capital of France.", encoding="utf-8")
    argv = [sys.executable, "-m", "qwen3_rag", "ingest", str(docs), "--watch", "--watch-debounce", "200",
            "--embedding-model", tiny_embedding_path, "--qdrant-path", str(tmp_path / "q"), "--device", "cpu",
            "--no-progress"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or []], daemon=True)
    reader.start()

    def next_line(what: str) -> str:
        try:
            return lines.get(timeout=WAIT)
        except queue.Empty:
            process.kill()
            raise AssertionError(f"no {what} line; stderr: {process.communicate()[1][-2000:]}") from None

    try:
        assert "1 file, 1 chunk: 1 embedded" in next_line("first pass")
        assert next_line("watching").startswith("Watching ")
        line = ""
        deadline = time.monotonic() + WAIT
        while "1 embedded" not in line:  # until the watcher is listening and has ingested b.txt
            assert time.monotonic() < deadline, line
            (docs / "b.txt").write_text(
                f"Berlin is the capital of Germany {time.monotonic()}.", encoding="utf-8"
            )
            try:
                line = lines.get(timeout=2.0)
            except queue.Empty:
                continue
        assert "1 change: 1 file, 1 chunk: 1 embedded" in line and "2 chunks" in line
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=WAIT)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert code == 0, (rest, process.stderr.read() if process.stderr else "")
    assert rest[-1].strip() == "Stopped watching."
