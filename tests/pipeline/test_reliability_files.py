"""Hostile files: names that are not UTF-8, control characters, NULs, huge lines, random bytes,
files that fail while read, a store folder that cannot be written, a first run that fails.

The promise: every file the walk finds gets an identity that cannot fail; a file that cannot be
read is one skipped file with its reason, never a failed run; a run that stores nothing leaves
nothing behind. Real files on disk, a real embedded Qdrant, the tiny real models; where a fault
cannot be made for real here (a disk read error: the suite runs as root, so permissions do not
stop a read) it is injected, and the test says so. A remote embedding model that fails is a
scripted server on 127.0.0.1 (``hostile_servers``) with the tiny tokenizer here.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen3_rag import Qwen3Embedder
from qwen3_rag._cli import main
from qwen3_rag.pipeline import Ingestor, QdrantStore
from qwen3_rag.pipeline import _loaders as loaders
from qwen3_rag.pipeline._layout import POINT_NAMESPACE, point_id
from qwen3_rag.pipeline._loaders import find_files
from qwen3_rag.pipeline._naming import printable, source_text
from qwen3_rag.testing import write_tiny_tokenizer
from tests.support.hostile_servers import http_response, scripted_server

BAD = os.fsdecode(b"bad\xff.md")  # how Python names the file b"bad\xff.md": 'bad\udcff.md'
any_string = st.lists(  # any str Python can hold: lone surrogates (a third of the time) included
    st.integers(0xD800, 0xDFFF) | st.integers(0, 0x7F) | st.integers(0, 0x10FFFF), max_size=30
).map(lambda cps: "".join(map(chr, cps)))


# ----------------------------------------------------------------------------- identities
@pytest.mark.slow  # a property test: hundreds of examples
@given(source=any_string, index=st.integers(0, 10**6))
def test_point_id_never_raises_and_keeps_the_ids_of_valid_names(source: str, index: int) -> None:
    pid = point_id(source, index)
    assert uuid.UUID(pid).version == 5 and pid == point_id(source, index)
    try:
        name = f"{source}\x00{index}"
        name.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert pid == str(uuid.uuid5(POINT_NAMESPACE, name))  # every stored id stays what it was


def test_the_id_of_a_non_utf8_name_is_the_id_of_its_bytes() -> None:
    assert point_id(BAD, 0) != point_id(os.fsdecode(b"bad\xfe.md"), 0)
    assert point_id(BAD, 0) != point_id("bad\\xff.md", 0)


@given(name=st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\x00" not in b))
def test_every_file_name_has_a_valid_utf8_source_key(name: bytes) -> None:
    path = "/data/" + os.fsdecode(name)
    key = source_text(path)
    key.encode("utf-8")  # never raises
    assert key == source_text(path)
    try:
        assert key == "/data/" + name.decode("utf-8")  # a UTF-8 name is its own key
    except UnicodeDecodeError:
        assert key == "/data/" + name.decode("utf-8", "backslashreplace")


@given(name=any_string)
def test_printable_names_are_one_line_without_control_characters(name: str) -> None:
    shown = printable(name)
    assert not any(c in shown for c in "\n\r\x1b\x00\x85\u2028\u2029")
    assert printable("plain/é name.md") == "plain/é name.md"


def test_the_walk_finds_a_non_utf8_name_and_refuses_a_colliding_one(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("fine")
    (tmp_path / BAD).write_text("bad name, good text")
    (tmp_path / "bad\\xff.md").write_text("a name that is literally the escaped one")
    files, skipped = find_files([tmp_path])
    keys = sorted(source_text(f) for f in files)
    assert len(files) == 2 and all("\\xff" in k or k.endswith("ok.md") for k in keys)
    (collision,) = skipped
    assert collision.path.endswith("bad\\xff.md") and "same as" in collision.reason


# ----------------------------------------------------------------------------- ingestion
def _ingest(embedder: Qwen3Embedder, store: QdrantStore, folder: Path) -> Any:
    return Ingestor(store, embedder, chunk_tokens=16, overlap=4, batch_size=4, progress=False).ingest(
        [folder]
    )


def _folder_of(folder: Path, files: dict[str, str | bytes]) -> Path:
    """``folder``, made, with one file per name: text written as text, bytes as they are."""
    folder.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)
    return folder


def test_a_folder_with_a_non_utf8_name_ingests_every_file_under_a_stable_key(
    embedder: Qwen3Embedder, tmp_path: Path
) -> None:
    """Today's failure: ``point_id`` raised UnicodeEncodeError and nothing of the folder was stored."""
    docs = _folder_of(
        tmp_path / "d",
        {
            "ok.md": "hi, a file with a fine name",
            BAD: b"x: the name is not UTF-8, the text is",
            "nul.txt": b"\x00\x01binary",
        },
    )
    store = QdrantStore("t", location=":memory:")
    report = _ingest(embedder, store, docs)
    assert report.files == 2 and [Path(s.path).name for s in report.skipped] == ["nul.txt"]
    sources = {r.source: r.chunks for r in store.sources.all()}
    bad_key = (docs.resolve() / "bad\\xff.md").as_posix()
    assert set(sources) == {(docs.resolve() / "ok.md").as_posix(), bad_key}
    points, _ = store.client.scroll("t", limit=10, with_payload=True)
    first = {p.payload["source"]: p.payload["text"] for p in points if p.payload["chunk_index"] == 0}
    assert first[bad_key].startswith("x: the name")
    again = _ingest(embedder, store, docs)  # the same key on every run: nothing changes
    assert again.embedded == 0 and again.unchanged == report.chunks and again.removed_files == 0
    (docs / BAD).unlink()  # and the escaped key is pruned like any other when the file goes
    gone = _ingest(embedder, store, docs)
    assert gone.removed_files == 1 and {r.source for r in store.sources.all()} == {
        (docs.resolve() / "ok.md").as_posix()
    }


def test_a_file_failing_while_read_is_one_skipped_file(
    embedder: Qwen3Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected (the suite runs as root, so no permission stops a read): an I/O error in the
    middle of one file's text, after its first chunks were queued."""
    (tmp_path / "a.txt").write_text("alpha " * 200)
    (tmp_path / "b.txt").write_text("beta " * 200)
    real = loaders.Document.pieces

    def pieces(self: loaders.Document, piece_chars: int = 64) -> Any:
        for number, piece in enumerate(real(self, 64)):
            if self.source.endswith("a.txt") and number == 3:
                raise OSError(5, "Input/output error")
            yield piece

    monkeypatch.setattr(loaders.Document, "pieces", pieces)
    store = QdrantStore("t", location=":memory:")
    report = _ingest(embedder, store, tmp_path)
    assert report.files == 1 and [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("a.txt", "unreadable (Input/output error)")
    ]
    assert {Path(r.source).name for r in store.sources.all() if r.complete} == {"b.txt"}


def test_a_failed_first_run_creates_nothing(embedder: Qwen3Embedder, tmp_path: Path) -> None:
    """Only binary files, so nothing to store: the collection is not created (today it was)."""
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    (tmp_path / "zero.bin").write_bytes(b"\x00" * 10)
    store = QdrantStore("t", location=":memory:")
    report = _ingest(embedder, store, tmp_path)
    assert report.files == 0 and len(report.skipped) == 2
    assert not store.exists() and not store.sources.exists()


# ----------------------------------------------------------------------------- the property
_contents = st.one_of(
    st.binary(max_size=300),  # random bytes: often not UTF-8, sometimes NULs
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.builds(lambda n, c: (c * n).encode(), st.integers(1, 3000), st.sampled_from(["a", "é", " ", "\n"])),
    st.just(b"\xef\xbb\xbf" + b"with a BOM"),
    st.just(b"ok text then a cut character \xe2\x82"),
)
_names = st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\x00" not in b and not b.startswith(b".")
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.dictionaries(_names, _contents, min_size=1, max_size=5))
def test_any_folder_ingests_without_failing_and_accounts_for_every_file(
    embedder: Qwen3Embedder, tmp_path_factory: pytest.TempPathFactory, files: dict[bytes, bytes]
) -> None:
    folder = tmp_path_factory.mktemp("random-folder")
    for name, content in files.items():
        with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
            handle.write(content)
    store = QdrantStore("t", location=":memory:")
    report = _ingest(embedder, store, folder)
    assert report.files + len(report.skipped) == len(files)
    assert all(s.reason for s in report.skipped)
    if report.files:
        recorded = {r.source for r in store.sources.all()}
        assert len(recorded) == report.files and all(k.encode("utf-8") for k in recorded)
        assert _ingest(embedder, store, folder).embedded == 0  # stable keys: a re-run is a no-op
    else:
        assert not store.exists()


# ----------------------------------------------------------------------------- the command line
def _run(argv: list[str], stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, stdout=out, stdin=io.StringIO(stdin)), out.getvalue()


def test_a_non_utf8_question_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _ = _run(["query", os.fsdecode(b"\xff"), "--qdrant-path", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("qwen3-rag: error: The question is not valid UTF-8 text (byte 0xff at character 0)")


def test_an_unwritable_store_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A store path below a regular file: no user, root included, can create it (today the message
    was the lock-conflict advice)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("text")
    (tmp_path / "file").write_text("not a folder")
    status, _ = _run(["ingest", str(tmp_path / "docs"), "--qdrant-path", str(tmp_path / "file" / "store")])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert "cannot be written (Not a directory)" in err and "Close the other program" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_store_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    store.mkdir(mode=0o500)
    status, _ = _run(["sources", "--qdrant-path", str(store)])
    assert status == 1 and "cannot be written (Permission denied)" in capsys.readouterr().err


def _failing_model_server(model_id: str) -> Any:
    """``/v1/models`` answers; every embedding request gets a 500: the first batch cannot be embedded."""

    def script(conn: socket.socket, request: bytes) -> None:
        if request.startswith(b"GET /v1/models"):
            card = {"id": model_id, "object": "model", "owned_by": "qwen3-rag", "kind": "embedding"}
            body = json.dumps({"object": "list", "data": [{**card, "dimensions": 64}]}).encode()
            conn.sendall(http_response(body))
        else:
            body = json.dumps({"error": {"message": "the model broke"}}).encode()
            conn.sendall(http_response(body, status="500 Internal Server Error"))

    return script


def test_a_failed_first_ingest_leaves_no_store_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokenizer = tmp_path / "tiny-tokenizer"
    write_tiny_tokenizer(tokenizer, 512, True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("some text to embed")
    store = tmp_path / "kb" / "qdrant"
    with scripted_server() as server:
        server.script = _failing_model_server(tokenizer.name)
        argv = ["ingest", str(tmp_path / "docs"), "--qdrant-path", str(store), "--no-progress"]
        status, _ = _run([*argv, "--embedding-model", str(tokenizer), "--embedding-url", server.base_url])
    err = capsys.readouterr().err
    assert status == 1 and "answered HTTP 500: the model broke" in err
    assert not (tmp_path / "kb").exists()  # nothing created: no folder, no empty collection


def test_control_characters_in_names_are_escaped_in_the_sources_table(
    tmp_path: Path, tiny_embedding_path: str
) -> None:
    docs = _folder_of(
        tmp_path / "docs",
        {
            "two\nlines.md": "a name with a newline",
            "esc\x1b[31mred.md": "a name with an escape sequence",
            BAD: "a name that is not UTF-8",
        },
    )
    flags = ["--qdrant-path", str(tmp_path / "q"), "--no-progress"]
    status, out = _run(
        ["ingest", str(docs), "--embedding-model", tiny_embedding_path, "--device", "cpu", *flags]
    )
    assert status == 0 and "3 files" in out, out
    status, table = _run(["sources", *flags[:2]])
    rows = table.splitlines()
    assert status == 0 and len(rows) == 4 and rows[-1].startswith("3 sources")
    assert any(r.endswith("two\\nlines.md") for r in rows) and any(
        r.endswith("esc\\x1b[31mred.md") for r in rows
    )
    assert any(r.endswith("bad\\xff.md") for r in rows) and "\x1b" not in table


def test_chat_refuses_a_non_utf8_line_and_answers_the_next(
    tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    """A real process, real bytes on stdin: the bad line is one error line, the next is answered."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Paris is the capital of France.")
    flags = ["--qdrant-path", str(tmp_path / "q"), "--no-progress", "--device", "cpu"]
    assert _run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags])[0] == 0
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "qwen3_rag", "chat", *flags, "--reranker-model", tiny_reranker_path],
        input=b"caf\xe9 ?\nWhat is the capital of France?\n",
        capture_output=True,
        env=env,
        timeout=300,
    )
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err, err
    assert "The question is not valid UTF-8 text (byte 0xe9 at character 3)" in err
    assert "Paris is the capital of France." in done.stdout.decode()
