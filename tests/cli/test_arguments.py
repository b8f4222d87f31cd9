"""The ``qwen3-rag`` command without models (fast layer): argument parsing, the bad input refused
before the store or any model is opened, and the store-only commands (``sources``, ``remove``) on a
store written by hand. Model paths that do not exist are passed wherever a model could load, so
reaching a loader would fail with another message.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from qdrant_client import models

from qwen3_rag import __version__
from qwen3_rag._cli import build_parser
from qwen3_rag._cli.hardware import hardware_options
from qwen3_rag._cli.models import load_options as _load_options
from qwen3_rag._cli.models import use_server as _use_server
from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore

# Internal names, kept in one place.
from qwen3_rag.pipeline._layout import chunk_payload, point_id
from qwen3_rag.pipeline._sources import SourceRecord
from tests.support.cli import run
from tests.support.store_copies import StoreFolders

NO_MODELS = ["--embedding-model", "/nonexistent/embedding", "--reranker-model", "/nonexistent/reranker"]


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qwen3-rag: error: "), err
    return lines[0]


def parse_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    return capsys.readouterr().err


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ingested files' paths (their chunks are written by hand below; the files exist and no
    test changes them)."""
    root = tmp_path_factory.mktemp("cli-args") / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("alpha", encoding="utf-8")
    (root / "sub" / "b.md").write_text("beta", encoding="utf-8")
    return root.resolve()


@pytest.fixture(scope="module")
def collection_folders(tmp_path_factory: pytest.TempPathFactory, docs: Path) -> StoreFolders:
    def build(_: str, folder: Path) -> None:
        """A collection ``kb`` made by hand: a.md with two chunks, sub/b.md with one, and their records."""
        chunks = [(docs / "a.md", 0), (docs / "a.md", 1), (docs / "sub" / "b.md", 0)]
        with QdrantStore("kb", path=folder) as store:
            store.ensure(EmbeddingSpec("/nonexistent/embedding", 4))
            store.upsert_chunks(
                [point_id(path.as_posix(), i) for path, i in chunks],
                [chunk_payload(path.as_posix(), i, f"chunk {i}") for path, i in chunks],
                [[1.0, float(n), 0.0, 0.0] for n in range(len(chunks))],
                [models.SparseVector(indices=[n], values=[1.0]) for n in range(len(chunks))],
            )
            store.sources.put(
                [
                    SourceRecord((docs / "a.md").as_posix(), 2, "2025-01-01T00:00:00+00:00"),
                    SourceRecord((docs / "sub" / "b.md").as_posix(), 1, None, complete=False),
                ]
            )

    return StoreFolders(tmp_path_factory.mktemp("cli-args-stores"), build)


@pytest.fixture
def store_flags(tmp_path: Path, collection_folders: StoreFolders) -> list[str]:
    """Flags naming this test's own copy of the collection ``kb``."""
    folder = collection_folders.copy("kb", tmp_path / "qdrant")
    return ["--qdrant-path", str(folder), "--collection", "kb"]


# ----------------------------------------------------------------------------- parsing
def test_version_and_every_command_described(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"qwen3-rag {__version__}"
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    undescribed = [name for name, parser in sub.choices.items() if not parser.description]
    assert undescribed == []


def test_ingest_help_lists_no_query_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--help"])
    text = capsys.readouterr().out
    assert "--embedding-model" in text and "--chunk-tokens" in text
    for query_only in ("--reranker-model", "--reranker-url", "--top-k", "--top-n", "--hybrid", "--filter"):
        assert query_only not in text
    # ...but takes them, unused, so one set of flags can serve every command
    args = build_parser().parse_args(["ingest", "d", "--reranker-model", "r", "--top-k", "3"])
    assert args.paths == ["d"]


@pytest.mark.slow
def test_a_closed_pipe_ends_the_command_quietly(store_flags: list[str], docs: Path) -> None:
    # `qwen3-rag sources --json | head -1`: the reader leaves before the output is written.
    read, write = os.pipe()
    os.close(read)
    done = subprocess.run(
        [sys.executable, "-m", "qwen3_rag", "sources", "--json", *store_flags],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    os.close(write)
    assert done.returncode == 141 and done.stderr == "", done.stderr


def test_query_defaults() -> None:
    args = build_parser().parse_args(["query", "what?"])
    assert (args.command, args.question, args.collection) == ("query", "what?", "qwen3_rag")
    assert (args.top_k, args.top_n, args.hybrid, args.json, args.min_score) == (50, 5, False, False, None)
    assert (args.device, args.dtype, args.embedding_model) == ("auto", "auto", None)
    assert args.reranker_model is None and args.server is None  # resolved when the command runs:
    _use_server(args)  # without a server, the default reranker
    assert args.reranker_model == "Qwen/Qwen3-Reranker-0.6B"
    assert (args.qdrant_path, args.qdrant_url, args.filter, args.instruction, args.task) == (
        None,
        None,
        [],
        None,
        None,
    )


def test_filters_repeat_and_numbers_parse() -> None:
    args = build_parser().parse_args(
        [
            "query",
            "q",
            "--filter",
            "source=a.md",
            "--filter",
            "chunk_index=2",
            "--top-k",
            "7",
            "--min-score",
            "0.3",
        ]
    )
    assert args.filter == ["source=a.md", "chunk_index=2"] and args.top_k == 7 and args.min_score == 0.3


@pytest.mark.parametrize("command", [["query", "q"], ["ingest", "a"], ["eval", "d"], ["serve"]])
def test_every_model_command_takes_the_hardware_options(command: list[str]) -> None:
    args = build_parser().parse_args(command)
    assert hardware_options(args) == {"device": "auto", "dtype": "auto"}  # no quantization by default
    args = build_parser().parse_args([*command, "--device", "cpu", "--quantize", "int8"])
    assert hardware_options(args) == {"device": "cpu", "dtype": "auto", "quantize": "int8"}


def test_quantize_goes_along_with_a_server_url_to_be_refused_there() -> None:
    args = build_parser().parse_args(["query", "q", "--embedding-url", "http://h/v1", "--quantize", "int8"])
    assert _load_options(args, "reranker") == {"base_url": "http://h/v1", "quantize": "int8"}
    args = build_parser().parse_args(["query", "q", "--embedding-url", "http://h/v1"])
    assert _load_options(args, "embedding") == {"base_url": "http://h/v1"}


def test_ingest_options() -> None:
    args = build_parser().parse_args(["ingest", "a", "b", "--chunk-tokens", "256", "--keep-missing"])
    assert args.paths == ["a", "b"] and args.chunk_tokens == 256 and args.chunk_overlap is None
    assert args.keep_missing and args.batch_size == 64


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["ingest"], "the following arguments are required: PATH"),
        (["query", "q", "--qdrant-path", "x", "--qdrant-url", "http://h"], "not allowed with argument"),
        (["query", "q", "--instruction", "x", "--task", "web_search"], "not allowed with argument"),
        (["query", "q", "--task", "poetry"], "invalid choice: 'poetry'"),
        (["query", "q", "--top-k", "many"], "invalid int value: 'many'"),
        (["sources", "--embedding-model", "m"], "unrecognized arguments: --embedding-model"),
        (["remove"], "the following arguments are required: PATH"),
        (["query", "q", "--quantize", "int4"], "invalid choice: 'int4'"),
    ],
    ids=[
        "no-command",
        "ingest-no-path",
        "path-and-url",
        "instruction-and-task",
        "unknown-task",
        "bad-int",
        "sources-no-models",
        "remove-no-path",
        "unknown-quantization",
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in parse_error(argv, capsys)


def test_every_task_preset_is_a_choice() -> None:
    from qwen3_rag import TASK_INSTRUCTIONS

    for task in TASK_INSTRUCTIONS:
        assert build_parser().parse_args(["chat", "--task", task]).task == task


# ----------------------------------------------------------------------------- refused before the store opens
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", " \t"], "The question is empty"),
        (["query", "q", "--filter", "source"], "--filter wants FIELD=VALUE, got 'source'"),
        (["query", "q", "--filter", "=x"], "--filter wants FIELD=VALUE"),
        # Any metadata field is a field now (issue 22): an unknown one is refused once the store is
        # open (tests/test_cli_store.py); what is malformed is refused before.
        (["query", "q", "--filter", "year>=soon"], "year>=soon: a range wants a number or an ISO date"),
        (["query", "q", "--filter", "chunk_index=1.5"], "chunk_index wants a whole number, got '1.5'"),
        (["chat", "--filter", "colour="], "--filter wants FIELD=VALUE, got 'colour='"),
    ],
    ids=[
        "blank-question",
        "no-equals",
        "no-field",
        "range-not-a-number",
        "fractional-index",
        "chat-empty-value",
    ],
)
def test_bad_input_is_refused_before_the_store_is_opened(
    tmp_path: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "no-store-here"  # would be "There is no Qdrant store" if it were opened first
    code, out = run([*argv, "--qdrant-path", str(where), *NO_MODELS])
    assert code == 1 and out == "" and message in error_line(capsys)
    assert not where.exists()


# ----------------------------------------------------------------------------- store-only commands
@pytest.mark.slow
def test_sources_lists_records_with_counts(store_flags: list[str], docs: Path) -> None:
    code, out = run(["sources", *store_flags])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["2", "2025-01-01T00:00:00+00:00", (docs / "a.md").as_posix()]
    assert lines[1].split()[:3] == ["1", "-", (docs / "sub" / "b.md").as_posix()]
    assert lines[1].endswith("(incomplete: run ingest again)")
    assert lines[2] == "2 sources, 3 chunks."


def test_sources_as_json(store_flags: list[str], docs: Path) -> None:
    code, out = run(["sources", "--json", *store_flags])
    assert code == 0
    assert json.loads(out) == {
        "collection": "kb",
        "sources": [
            {
                "source": (docs / "a.md").as_posix(),
                "chunks": 2,
                "ingested_at": "2025-01-01T00:00:00+00:00",
                "complete": True,
            },
            {
                "source": (docs / "sub" / "b.md").as_posix(),
                "chunks": 1,
                "ingested_at": None,
                "complete": False,
            },
        ],
    }


def test_sources_of_a_missing_collection(store_flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(["sources", *store_flags[:-1], "other"])
    assert code == 1 and "Collection 'other' does not exist" in error_line(capsys)


@pytest.mark.slow
def test_remove_a_folder_by_relative_path(
    store_flags: list[str], docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(docs)
    code, out = run(["remove", "sub", *store_flags])
    assert code == 0 and out.strip() == "Removed 1 file, 1 chunk. Collection 'kb': 2 chunks."
    code, out = run(["sources", "--json", *store_flags])
    assert [s["source"] for s in json.loads(out)["sources"]] == [(docs / "a.md").as_posix()]


@pytest.mark.slow
def test_removing_what_is_not_there_is_a_notice_and_removes_the_rest(
    store_flags: list[str], docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Already removed (or never ingested) is the state asked for: exit 0, and say so (a typo shows).
    code, out = run(["remove", str(docs / "a.md"), str(tmp_path / "elsewhere"), *store_flags])
    err = capsys.readouterr().err
    assert code == 0 and out.startswith("Removed 1 file, 2 chunks."), out
    assert f"nothing ingested from {tmp_path / 'elsewhere'}" in err and "Traceback" not in err
    code, out = run(["remove", str(docs / "a.md"), *store_flags])  # again: nothing left to do
    assert code == 0 and out.startswith("Removed 0 files, 0 chunks.")
    with QdrantStore("kb", path=store_flags[1]) as store:
        assert store.count() == 1


@pytest.mark.slow
@pytest.mark.parametrize("command", [["query", "q"], ["chat"]])
def test_a_source_filter_naming_nothing_ingested_is_refused_before_models_load(
    store_flags: list[str], docs: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run([*command, "--filter", f"source={docs / 'c.md'}", *store_flags, *NO_MODELS])
    assert code == 1 and out == ""
    assert f"--filter source={(docs / 'c.md').as_posix()} matches no ingested file" in error_line(capsys)


def test_the_ingest_progress_bar_shows_its_unit() -> None:
    from qwen3_rag.pipeline._ingest import byte_progress_bar

    out = io.StringIO()
    bar = byte_progress_bar(15_700, file=out, mininterval=0)
    bar.update(15_700)
    bar.close()
    assert "15.7kB/15.7kB" in out.getvalue()
