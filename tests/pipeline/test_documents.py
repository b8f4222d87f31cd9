"""Office, HTML and EPUB documents (the ``documents`` extra) and PDF: ingested, found by a query, cited."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from benchmarks.document_files import MARKERS, write_all
from qwen3_rag.pipeline._loaders import read_document
from tests.support.cli import run

if importlib.util.find_spec("markitdown") is None:  # found, not imported: importing it takes a second
    pytest.skip("the documents extra is in the test extra", allow_module_level=True)


def test_each_format_is_ingested_and_its_text_found_by_a_query(
    tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    files = write_all(tmp_path / "docs")
    flags = ["--qdrant-path", str(tmp_path / "q"), "--reranker-model", tiny_reranker_path, "--device", "cpu",
             "--no-progress"]  # fmt: skip
    code, out = run(["ingest", str(tmp_path / "docs"), "--embedding-model", tiny_embedding_path, *flags])
    assert code == 0, out
    assert "6 files" in out and "skipped" not in out
    for fmt, path in files.items():
        # Hybrid: the marker word is a sparse term match; the filter keeps the format's own file.
        code, out = run(["query", f"{MARKERS[fmt]} keyword", "--hybrid", "--json", "--top-n", "50",
                         "--filter", f"source={path}", *flags])  # fmt: skip
        assert code == 0, out
        results = json.loads(out)["results"]
        assert any(MARKERS[fmt] in r["text"] for r in results), fmt
        found = next(r for r in results if MARKERS[fmt] in r["text"])
        assert isinstance(found["headings"], list)  # exact paths: test_headings_and_slides_become_provenance
        if fmt == "docx":  # its one chunk opens with "# Install", "## Linux" (headings with no body between)
            assert found["headings"] == ["Install", "Linux"], found
        if fmt == "pptx":  # slides are pages: the marker is on slide 1
            assert found["page_start"] == 1 and found["page_end"] == 4  # the whole deck fits one chunk
            assert found["citation"] == "sample.pptx, pp. 1-4, Install: Linux"
        if fmt == "pdf":
            assert found["page_start"] == 1
        if fmt == "xlsx":
            assert found["headings"] == ["Sales"]  # sheets are headings; the one chunk starts at the first


@pytest.mark.slow
def test_headings_and_slides_become_provenance(tmp_path: Path) -> None:
    files = write_all(tmp_path)
    for fmt in ("docx", "html", "epub", "pptx", "xlsx"):
        doc = read_document(files[fmt])
        text = getattr(doc, "text", "")
        at = text.index(MARKERS[fmt])
        where = doc.provenance(at, at + len(MARKERS[fmt]))  # type: ignore[union-attr]
        expected = {"pptx": ("Install: Linux",), "xlsx": ("Notes",)}.get(fmt, ("Install", "Linux"))
        assert where.headings[-len(expected) :] == expected, fmt
        assert where.page_start == (1 if fmt == "pptx" else None), fmt  # slides are pages


@pytest.mark.slow
def test_tables_are_kept_whole(tmp_path: Path) -> None:
    from benchmarks.parsers import table_kept

    files = write_all(tmp_path)
    for fmt in ("docx", "pptx", "xlsx", "html", "epub"):
        doc = read_document(files[fmt])
        assert table_kept(getattr(doc, "text", "")), fmt


def test_without_the_extra_the_skip_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write_all(tmp_path)
    monkeypatch.setitem(sys.modules, "markitdown", None)  # import markitdown now fails, as uninstalled
    for fmt in ("docx", "pptx", "xlsx", "epub"):
        skipped = read_document(files[fmt])
        assert "pip install 'qwen3-rag[documents]'" in getattr(skipped, "reason", ""), fmt
    html = read_document(files["html"])  # HTML is still read as text, as before the extra
    assert MARKERS["html"] in getattr(html, "text", "") and "<h2>" in getattr(html, "text", "")


def test_a_broken_file_is_skipped_with_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a docx")
    skipped = read_document(broken)
    assert getattr(skipped, "reason", "").startswith("unreadable .docx")
