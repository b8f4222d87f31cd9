"""The CLI on the store: sources, remove, pruning, damaged or missing stores, input refused early.

Bad input is checked before any model loads: those cases pass a reranker path that does not
exist, so reaching the model loader would fail with a different message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("qwen3-rag: error: "), err
    return lines[-1]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("Paris is the capital of France.", encoding="utf-8")
    (root / "b.txt").write_text("Python is a programming language.", encoding="utf-8")
    (root / "sub" / "c.txt").write_text("Qdrant stores vectors. " * 20, encoding="utf-8")
    return root


@pytest.fixture
def store_flags(tmp_path: Path) -> list[str]:
    return ["--qdrant-path", str(tmp_path / "qdrant"), "--collection", "kb"]


@pytest.fixture
def ingested(docs: Path, store_flags: list[str], tiny_embedding_path: str) -> list[str]:
    code, out = run(
        ["ingest", str(docs), "--embedding-model", tiny_embedding_path, *store_flags, "--no-progress"]
    )
    assert code == 0, out
    return store_flags


NO_MODELS = ["--reranker-model", "/nonexistent/reranker", "--device", "cpu", "--no-progress"]


def test_sources_lists_files_with_counts_and_json(
    ingested: list[str], docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["sources", *ingested])
    assert code == 0
    assert "3 sources" in out and str((docs / "sub" / "c.txt").resolve()) in out
    code, out = run(["sources", "--json", *ingested])
    listed = json.loads(out)["sources"]
    assert [Path(s["source"]).name for s in listed] == ["a.md", "b.txt", "c.txt"]
    assert all(s["chunks"] >= 1 and s["complete"] and s["ingested_at"] for s in listed)


def test_ingest_prunes_deleted_files_unless_keep_missing(
    ingested: list[str], docs: Path, tiny_embedding_path: str
) -> None:
    (docs / "b.txt").unlink()
    code, out = run(["ingest", str(docs), *ingested, "--keep-missing", "--no-progress"])
    assert code == 0 and "removed" not in out
    code, out = run(["ingest", str(docs), *ingested, "--no-progress"])
    assert code == 0 and "removed 1 file, 1 chunk" in out
    code, out = run(["sources", "--json", *ingested])
    assert [Path(s["source"]).name for s in json.loads(out)["sources"]] == ["a.md", "c.txt"]


def test_remove_by_file_folder_and_relative_path(
    ingested: list[str], docs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(docs)
    code, out = run(["remove", "sub", *ingested])  # relative, resolved as ingest does
    assert code == 0 and out.startswith("Removed 1 file,")
    (docs / "a.md").unlink()  # a file that is gone can still be removed by its path
    code, out = run(["remove", "a.md", *ingested])
    assert code == 0 and "Removed 1 file, 1 chunk" in out and "'kb': 1 chunk" in out
    code, out = run(["remove", "/never/ingested.md", *ingested])
    assert code == 0 and out.startswith("Removed 0 files, 0 chunks.")
    assert "nothing ingested from /never/ingested.md" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", ""], "The question is empty"),
        (["query", "  \n\t "], "The question is empty"),
        (
            ["query", "q", "--filter", "nokey=5"],
            "field 'nokey' is not stored with the chunks; the fields are ",
        ),
        (["query", "q", "--filter", "chunk_index=two"], "chunk_index wants a whole number"),
        (["query", "q", "--filter", "source=/no/such/file.md"], "matches no ingested file"),
        (["chat", "--filter", "source=elsewhere.md"], "matches no ingested file"),
    ],
    ids=["empty", "blank", "unknown-field", "non-integer-index", "unknown-source", "chat-unknown-source"],
)
def test_bad_query_input_is_refused_before_models_load(
    ingested: list[str], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code, out = run([*argv, *ingested, *NO_MODELS])
    assert code == 1 and out == ""
    assert message in error_line(capsys)


def test_relative_source_filter_is_resolved_as_ingest_does(
    ingested: list[str],
    docs: Path,
    tiny_reranker_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(docs.parent)
    code, out = run(
        [
            "query",
            "capital",
            "--json",
            "--filter",
            "source=docs/a.md",
            *ingested,
            "--reranker-model",
            tiny_reranker_path,
        ]
    )
    assert code == 0, out
    results = json.loads(out)["results"]
    assert [r["source"] for r in results] == [str((docs / "a.md").resolve())]


def test_a_folder_source_filter_means_everything_ingested_under_it(
    ingested: list[str], docs: Path, tiny_reranker_path: str
) -> None:
    flags = [*ingested, "--reranker-model", tiny_reranker_path, "--top-n", "10", "--json"]
    code, out = run(["query", "vectors", "--filter", f"source={docs / 'sub'}", *flags])
    assert code == 0, out
    assert {r["source"] for r in json.loads(out)["results"]} == {str((docs / "sub" / "c.txt").resolve())}
    code, out = run(["query", "vectors", "--filter", f"source={docs}", *flags])
    everything = {str((docs / name).resolve()) for name in ("a.md", "b.txt", "sub/c.txt")}
    assert code == 0 and {r["source"] for r in json.loads(out)["results"]} == everything


def test_ingest_of_a_missing_path_fails_and_creates_nothing(
    tmp_path: Path, store_flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(["ingest", str(tmp_path / "nope"), *store_flags, "--embedding-model", "/nonexistent"])
    assert code == 1 and "No such file or folder" in error_line(capsys)
    assert not (tmp_path / "qdrant").exists()


@pytest.mark.parametrize("command", [["query", "q"], ["chat"], ["sources"], ["remove", "x"]])
def test_a_missing_store_is_reported_without_creating_files(
    tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "no-store-here"
    extra = NO_MODELS if command[0] in ("query", "chat") else []
    code, _ = run([*command, "--qdrant-path", str(where), *extra])
    assert code == 1 and "There is no Qdrant store at" in error_line(capsys)
    assert not where.exists()


def truncate_sqlite(store: Path) -> None:
    sqlite = store / "collection" / "kb" / "storage.sqlite"
    data = sqlite.read_bytes()
    sqlite.write_bytes(data[: len(data) // 2])


def empty_sqlite(store: Path) -> None:
    (store / "collection" / "kb" / "storage.sqlite").write_bytes(b"")


def cut_meta(store: Path) -> None:
    meta = store / "meta.json"
    meta.write_text(meta.read_text()[:40])


def delete_sqlite(store: Path) -> None:
    (store / "collection" / "kb" / "storage.sqlite").unlink()


def empty_wal(store: Path) -> None:
    for part in (store / "collections" / "kb" / "shard" / "wal").iterdir():
        part.write_bytes(b"")


def empty_segment_state(store: Path) -> None:
    for state in (store / "collections" / "kb" / "shard" / "segments").glob("*/segment.json"):
        state.write_bytes(b"")


def delete_segments(store: Path) -> None:
    shutil.rmtree(store / "collections" / "kb" / "shard" / "segments")


def cut_collection_record(store: Path) -> None:
    record = store / "collections" / "kb" / "collection.json"
    record.write_text(record.read_text()[:20])


# Qdrant Edge folders (made by `ingest` today) and qdrant-client local-mode folders (made by
# earlier versions; opened as they are): each damage is one line naming the folder and the fix.
DAMAGE: dict[str, tuple[str, Callable[[Path], None]]] = {
    "edge-wal-emptied": ("edge", empty_wal),
    "edge-segment-state-emptied": ("edge", empty_segment_state),
    "edge-segments-deleted": ("edge", delete_segments),
    "edge-collection-record-cut": ("edge", cut_collection_record),
    "local-sqlite-truncated": ("local", truncate_sqlite),
    "local-sqlite-empty": ("local", empty_sqlite),
    "local-sqlite-deleted": ("local", delete_sqlite),
    "local-meta-json-cut": ("local", cut_meta),
}


def ingest_local_mode(docs: Path, store: Path, model: str, *chunking: str) -> None:
    """A store as earlier versions wrote it: qdrant-client's local mode (the CLI makes Edge folders)."""
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    tokens = dict(zip(("chunk_tokens", "overlap"), (int(c) for c in chunking), strict=False))
    embedder = Qwen3Embedder.load(model, device="cpu")
    with QdrantStore("kb", path=store, engine="local") as local:
        Ingestor(local, embedder, progress=False, **tokens).ingest([docs])  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", [["query", "capital"], ["sources"], ["ingest", "{docs}"]])
def test_a_damaged_store_is_one_line_and_exit_1(
    docs: Path,
    store_flags: list[str],
    tiny_embedding_path: str,
    tmp_path: Path,
    damage: str,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "qdrant"
    engine, harm = DAMAGE[damage]
    small = ["4", "0"] if damage == "local-sqlite-truncated" else []  # half of it loses pages, not free space
    if engine == "local":
        ingest_local_mode(docs, store, tiny_embedding_path, *small)
    else:
        code, out = run(
            ["ingest", str(docs), "--embedding-model", tiny_embedding_path, *store_flags, "--no-progress"]
        )
        assert code == 0, out
    harm(store)
    capsys.readouterr()
    argv = [str(docs) if a == "{docs}" else a for a in command]
    code, out = run([*argv, *store_flags, *(NO_MODELS if command[0] != "sources" else [])])
    line = error_line(capsys)
    assert code == 1 and "No passages" not in out
    assert f"The embedded Qdrant store at {str(store)!r} is damaged" in line
    assert "Restore the folder from a backup or snapshot, or delete it" in line


def test_damaged_store_from_the_real_command(ingested: list[str], tmp_path: Path) -> None:
    empty_segment_state(tmp_path / "qdrant")
    child = subprocess.run(
        [sys.executable, "-m", "qwen3_rag._cli", "sources", *ingested],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert child.returncode == 1 and child.stdout == ""
    assert child.stderr.strip().count("\n") == 0 and "is damaged" in child.stderr


def test_store_copy_keeps_working(ingested: list[str], tmp_path: Path) -> None:
    """The damage checks do not refuse a healthy store (a copied folder, as a restore would be)."""
    shutil.copytree(tmp_path / "qdrant", tmp_path / "restored")
    code, out = run(["sources", "--qdrant-path", str(tmp_path / "restored"), "--collection", "kb"])
    assert code == 0 and "3 sources" in out


def test_ingest_and_query_are_quiet(
    tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    """Nothing on stderr but our own lines: no tokenizer length notice, no cache deprecation."""
    docs = tmp_path / "docs"
    docs.mkdir()
    words = ["alpha", "beta", "gamma", "delta", "Paris", "France", "capital", "river", "Seine", "bridge"]
    long_text = " ".join(words[i * 7 % len(words)] for i in range(36_000))  # > the tokenizer's 32768
    (docs / "long.txt").write_text(long_text, encoding="utf-8")
    (docs / "a.md").write_text("Paris is the capital of France.", encoding="utf-8")
    (docs / "image.png").write_bytes(b"not text")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    common = ["--qdrant-path", str(tmp_path / "q"), "--device", "cpu"]
    commands = [
        ["ingest", str(docs), "--embedding-model", tiny_embedding_path, "--chunk-tokens", "1024"],
        ["query", "capital of France", "--reranker-model", tiny_reranker_path, "--top-k", "20"],
    ]
    stderr = []
    for command in commands:
        child = subprocess.run(
            [sys.executable, "-m", "qwen3_rag._cli", *command, *common],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert child.returncode == 0, child.stderr
        stderr.append(child.stderr)
    assert stderr[0].strip() == f"qwen3-rag: skipped {(docs / 'image.png').resolve()}: binary file type .png"
    assert stderr[1] == ""


@pytest.mark.parametrize(
    ("flags", "instruction"),
    [
        (["--instruction", "Find the city {x}\\n that is meant"], "Find the city {x}\\n that is meant"),
        (
            ["--task", "question_answering"],
            "Given a question, retrieve Wikipedia passages that answer the question",
        ),
    ],
    ids=["instruction", "task-preset"],
)
def test_instruction_and_task_reach_both_models(
    ingested: list[str], tiny_reranker_path: str, flags: list[str], instruction: str
) -> None:
    from qwen3_rag import Qwen3Reranker

    argv = [
        "query",
        "capital",
        "--json",
        *flags,
        *ingested,
        "--reranker-model",
        tiny_reranker_path,
        "--device",
        "cpu",
    ]
    code, out = run(argv)
    assert code == 0, out
    results = json.loads(out)["results"]
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu")
    expected = reranker.score("capital", [r["text"] for r in results], instruction=instruction)
    default = reranker.score("capital", [r["text"] for r in results])
    assert [r["rerank_score"] for r in results] == pytest.approx(expected, abs=1e-6)
    assert expected != pytest.approx(default, abs=1e-6)  # the instruction changed the scores
