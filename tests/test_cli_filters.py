"""``--filter`` on metadata fields and folders, ``--tenant``, and ``sources``/``remove`` over files and
documents, through the real CLI (``qwen3_rag._cli.main``) on an embedded Qdrant Edge folder.

Documents with metadata are written from Python (``Ingestor.ingest_documents``: the CLI reads
folders, whose files carry no metadata) into the same folder the CLI ingests files into.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli_store import error_line, run

from qwen3_rag import Qwen3Embedder
from qwen3_rag._cli_filters import parse_filters
from qwen3_rag.pipeline import Ingestor, QdrantStore, SourceDocument

DOCUMENTS = [
    SourceDocument(
        "wiki/ops/rotate", "Rotate the API key from the settings page.", {"team": "ops", "year": 2021}
    ),
    SourceDocument("wiki/ops/backup", "Backups of the key store run nightly.", {"team": "ops", "year": 2018}),
    SourceDocument(
        "wiki/dev/release", "Release notes mention the new key format.", {"team": "dev", "year": 2023}
    ),
    SourceDocument(
        "wiki/hr/leave",
        "Leave requests go through the portal.",
        {"team": "hr", "year": "2024", "remote": True},
    ),
]


@pytest.fixture
def collection(
    tmp_path: Path, tiny_embedding_path: str, tiny_embedder: Qwen3Embedder
) -> tuple[list[str], Path]:
    """A Qdrant Edge folder holding files ingested by the CLI and documents with metadata."""
    docs = tmp_path / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "guides" / "keys.md").write_text("Keys are rotated every ninety days.", encoding="utf-8")
    (docs / "notes.txt").write_text("A note about the key ceremony.", encoding="utf-8")
    flags = ["--qdrant-path", str(tmp_path / "qdrant"), "--collection", "kb"]
    code, out = run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *flags, "--no-progress"])
    assert code == 0, out
    embedder = tiny_embedder
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        assert store.engine.name == "qdrant-edge"
        Ingestor(store, embedder, progress=False).ingest_documents(DOCUMENTS)
        Ingestor(store, embedder, progress=False, tenant="acme").ingest_documents(
            [SourceDocument("wiki/ops/rotate", "Acme rotates keys by hand.", {"team": "ops"})]
        )
    return flags, docs


def sources_found(flags: list[str], reranker: str, *filters: str) -> set[str]:
    argv = ["query", "key", "--json", "--top-n", "20", *flags, "--reranker-model", reranker, "--no-progress"]
    for item in filters:
        argv += ["--filter", item]
    code, out = run(argv)
    assert code == 0, out
    results = json.loads(out)["results"]
    return {r["source"] for r in results}


def test_query_filters_on_metadata_fields_through_the_cli(
    collection: tuple[list[str], Path], tiny_reranker_path: str
) -> None:
    flags, docs = collection
    found = lambda *f: sources_found(flags, tiny_reranker_path, *f)  # noqa: E731
    assert found("team=ops") == {"wiki/ops/rotate", "wiki/ops/backup"}
    assert found("team=ops,dev") == {"wiki/ops/rotate", "wiki/ops/backup", "wiki/dev/release"}
    assert found("team=ops", "year>=2020") == {"wiki/ops/rotate"}
    assert found("year>=2019", "year<2024") == {"wiki/ops/rotate", "wiki/dev/release"}
    assert found("year=2024") == {"wiki/hr/leave"}  # stored as the string "2024": its text matches
    assert found("remote=true") == {"wiki/hr/leave"}
    files = {str((docs / "guides" / "keys.md").resolve()), str((docs / "notes.txt").resolve())}
    assert found("team!=ops", "team!=hr") == {"wiki/dev/release", *files}  # files have no team: they pass !=
    assert found("source=wiki/ops/") == {"wiki/ops/rotate", "wiki/ops/backup"}


def test_query_results_carry_metadata_in_json(
    collection: tuple[list[str], Path], tiny_reranker_path: str
) -> None:
    flags, _ = collection
    argv = ["query", "key", "--json", *flags, "--reranker-model", tiny_reranker_path, "--no-progress"]
    code, out = run([*argv, "--filter", "team=dev"])
    assert code == 0, out
    [result] = json.loads(out)["results"]
    assert result["metadata"] == {"team": "dev", "year": 2023}


def test_source_filter_on_a_folder_means_everything_under_it(
    collection: tuple[list[str], Path], tiny_reranker_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags, docs = collection
    monkeypatch.chdir(docs.parent)
    guides = str((docs / "guides" / "keys.md").resolve())
    assert sources_found(flags, tiny_reranker_path, "source=docs/guides/") == {guides}
    assert sources_found(flags, tiny_reranker_path, "source=docs/") == {
        guides,
        str((docs / "notes.txt").resolve()),
    }


def test_tenant_scopes_query_sources_and_remove(
    collection: tuple[list[str], Path], tiny_reranker_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags, _ = collection
    argv = ["query", "key", "--json", *flags, "--reranker-model", tiny_reranker_path, "--no-progress"]
    code, out = run([*argv, "--tenant", "acme"])
    assert code == 0 and [r["text"] for r in json.loads(out)["results"]] == ["Acme rotates keys by hand."]

    code, out = run(["sources", *flags])
    assert code == 0 and out.splitlines()[-1] == "7 sources, 7 chunks."
    assert sum("wiki/ops/rotate  (document, tenant acme)" in line for line in out.splitlines()) == 1
    assert sum(line.endswith("wiki/ops/rotate  (document)") for line in out.splitlines()) == 1
    code, out = run(["sources", *flags, "--tenant", "acme"])
    assert code == 0 and out.splitlines()[-1] == "1 source, 1 chunk."

    code, out = run(["remove", "wiki/ops/rotate", *flags, "--tenant", "acme"])
    assert code == 0 and out.startswith("Removed 0 files, 1 document, 1 chunk."), out
    code, out = run(["remove", "wiki/ops/", *flags])  # no --tenant: the documents without one
    assert code == 0 and out.startswith("Removed 0 files, 2 documents, 2 chunks."), out
    code, out = run(["sources", *flags, "--json"])
    listed = {(s["source"], s.get("tenant"), s.get("kind", "file")) for s in json.loads(out)["sources"]}
    assert ("wiki/dev/release", None, "document") in listed and len(listed) == 4
    assert {kind for _, _, kind in listed} == {"file", "document"}
    capsys.readouterr()
    code, out = run(["remove", "wiki/nothing", *flags])
    assert code == 0 and "nothing ingested from wiki/nothing" in capsys.readouterr().err


def test_ingest_with_a_tenant_keeps_the_same_files_apart(
    collection: tuple[list[str], Path], tiny_embedding_path: str
) -> None:
    flags, docs = collection
    code, out = run(
        ["ingest", str(docs), "--tenant", "beta", "--embedding-model", tiny_embedding_path, *flags]
    )
    assert code == 0 and out.startswith("2 files, 2 chunks: 2 embedded"), out
    code, out = run(["sources", *flags, "--tenant", "beta"])
    assert out.splitlines()[-1] == "2 sources, 2 chunks."
    (docs / "notes.txt").unlink()  # pruning is the tenant's own: beta's notes go, the untenanted stay
    code, out = run(
        ["ingest", str(docs), "--tenant", "beta", "--embedding-model", tiny_embedding_path, *flags]
    )
    assert code == 0 and "removed 1 file" in out, out
    code, out = run(["sources", *flags, "--json"])
    notes = [s for s in json.loads(out)["sources"] if s["source"].endswith("notes.txt")]
    assert [s.get("tenant") for s in notes] == [None]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("team", "--filter wants FIELD=VALUE, got 'team'"),
        ("team=", "--filter wants FIELD=VALUE, got 'team='"),
        (">=3", "--filter wants FIELD=VALUE, got '>=3'"),
        ("year>=later", "year>=later: a range wants a number or an ISO date"),
        (
            "colour=red",
            "--filter field 'colour' is not stored with the chunks; the fields are source, chunk_index, "
            "tenant, remote, team, year",
        ),
        ("source=wiki/none/", "--filter source=wiki/none/ matches no ingested file or document"),
        ("source>=a", "--filter source takes = only (source=NAME), not ranges or !="),
    ],
)
def test_malformed_filters_are_one_line_errors(
    collection: tuple[list[str], Path], item: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags, _ = collection
    capsys.readouterr()
    code, out = run(
        ["query", "key", "--filter", item, *flags, "--reranker-model", "/nonexistent", "--no-progress"]
    )
    assert code == 1 and out == ""
    assert message in error_line(capsys)


def test_filter_values_are_typed() -> None:
    assert parse_filters(["team=ops"]) == {"team": "ops"}
    assert parse_filters(["year=2024"]) == {"year": [2024, "2024"]}
    assert parse_filters(["ok=true", "score=0.5"]) == {"ok": [True, "true"], "score": [0.5, "0.5"]}
    assert parse_filters(['code="007"']) == {"code": "007"}
    assert parse_filters(["team=ops,dev", "team=qa"]) == {"team": ["ops", "dev", "qa"]}
    assert parse_filters(["year>=2020", "year<2024.5"]) == {"year": {"gte": 2020, "lt": 2024.5}}
    assert parse_filters(["day>=2024-01-31"]) == {"day": {"gte": "2024-01-31"}}
    assert parse_filters(["team!=ops"]) == {"team": {"nin": ["ops"]}}
    assert parse_filters(["source=1"], tenant="acme") == {"source": "1", "tenant": "acme"}
    assert parse_filters([]) is None
