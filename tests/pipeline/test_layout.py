"""Collection layout, ids and source paths (fast layer): values that must never change, and the
payload readers shared with LangChain and LlamaIndex collections."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

# Internal names, kept in one place.
from qwen3_rag.pipeline._layout import Hit, chunk_payload, content_hash, point_id, read_source, read_text
from qwen3_rag.pipeline._sources import SourceRecord, as_source, is_under, is_walked, record_id


# ----------------------------------------------------------------------------- ids
def test_point_ids_are_pinned() -> None:
    """Changing these orphans every existing collection: a re-ingest would duplicate all chunks."""
    assert point_id("/docs/a.md", 0) == "4501a7fc-9160-590e-9127-c4436bc9d9be"
    assert point_id("/docs/a.md", 1) == "ca7bfd88-4f81-5fbc-887d-bf498e10b3cb"
    assert record_id("/docs/a.md") == "406ef73a-e3df-50bb-9487-d54ebfc81477"


def test_point_ids_separate_source_and_index() -> None:
    # Without a separator "/a1" chunk 1 and "/a" chunk 11 would collide.
    assert point_id("/a1", 1) != point_id("/a", 11)
    assert len({point_id(s, i) for s in ("/a", "/b") for i in range(50)}) == 100


def test_content_hash_is_the_sha256_of_the_utf8_text() -> None:
    assert content_hash("héllo") == hashlib.sha256("héllo".encode()).hexdigest()
    assert content_hash("a") != content_hash("a ")


def test_chunk_payload_fields() -> None:
    assert chunk_payload("/a.md", 2, "text") == {
        "text": "text",
        "source": "/a.md",
        "chunk_index": 2,
        "content_hash": content_hash("text"),
    }
    assert chunk_payload("/a.md", 2, "text", digest="given")["content_hash"] == "given"


# ----------------------------------------------------------------------------- payload readers
def test_a_hit_reads_our_payload() -> None:
    point = SimpleNamespace(id=7, score=0.5, payload=chunk_payload("/a.md", 3, "the text"))
    hit = Hit.from_point(point)
    assert (hit.id, hit.score, hit.text, hit.source, hit.chunk_index) == ("7", 0.5, "the text", "/a.md", 3)
    empty = Hit.from_point(SimpleNamespace(id="x", score=1, payload=None))
    assert (empty.text, empty.source, empty.chunk_index) == ("", "", 0)


def test_payloads_written_by_langchain_and_llama_index_stores_are_read() -> None:
    langchain = {"page_content": "from langchain", "metadata": {"source": "/lc.md"}}
    llama_index = {"_node_content": json.dumps({"text": "from llama-index"}), "source": "/li.md"}
    assert (read_text(langchain), read_source(langchain)) == ("from langchain", "/lc.md")
    assert (read_text(llama_index), read_source(llama_index)) == ("from llama-index", "/li.md")
    # Ours wins when present; anything unreadable is "" rather than an error.
    assert read_text({"text": "ours", "page_content": "theirs"}) == "ours"
    assert read_text({"_node_content": "{not json"}) == "" and read_text({"_node_content": "[1]"}) == ""
    assert read_source({"metadata": "not a mapping"}) == "" and read_text(None) == ""


# ----------------------------------------------------------------------------- source paths
def test_sources_are_absolute_resolved_posix_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.md").write_text("x", encoding="utf-8")
    link = tmp_path / "link"
    try:
        os.symlink(real, link)
    except OSError:
        pytest.skip("cannot make symlinks here")
    monkeypatch.chdir(tmp_path)
    expected = (real / "a.md").resolve().as_posix()
    assert as_source("link/a.md") == expected
    assert as_source(link / "a.md") == expected
    assert as_source(Path("real") / ".." / "real" / "a.md") == expected


def test_under_a_folder_means_the_path_or_below_it() -> None:
    assert is_under("/d/a.md", "/d") and is_under("/d/a.md", "/d/") and is_under("/d", "/d")
    assert not is_under("/dd/a.md", "/d") and not is_under("/d", "/d/a.md")


def test_hidden_entries_below_a_root_are_not_walked() -> None:
    assert is_walked("/d/sub/a.md", "/d") and is_walked("/d/.x", "/d/.x")
    assert not is_walked("/d/.git/a.md", "/d") and not is_walked("/d/sub/.env", "/d")
    assert is_walked("/.config/d/a.md", "/.config/d")  # hidden above the root does not count


def test_source_record_payload_round_trip() -> None:
    record = SourceRecord("/a.md", 4, "2025-01-01T00:00:00+00:00", complete=False)
    assert SourceRecord.from_payload(record.to_payload()) == record
    assert SourceRecord.from_payload({"source": "/b.md"}) == SourceRecord("/b.md", 0, None, complete=True)
