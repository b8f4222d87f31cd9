"""``qwen3-rag query`` and ``chat`` read the collection's record once (it used to be three times:
the command's check, then the retriever's open, then its spec check)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from qwen3_rag._cli import main
from qwen3_rag.pipeline import QdrantStore

pytestmark = pytest.mark.models  # every test here builds or loads a model


def test_query_and_chat_read_the_collection_once(
    tmp_path: Path, tiny_embedding_path: str, tiny_reranker_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Paris is the capital of France.", encoding="utf-8")
    store = ["--qdrant-path", str(tmp_path / "qdrant"), "--device", "cpu"]
    assert main(["ingest", str(docs), "--embedding-model", tiny_embedding_path, *store]) == 0
    reads: list[str] = []
    real = QdrantStore.read_spec

    def counted(self: QdrantStore, *args: Any, **kwargs: Any) -> Any:
        reads.append(self.collection)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(QdrantStore, "read_spec", counted)
    out = io.StringIO()
    flags = [*store, "--reranker-model", tiny_reranker_path]
    assert main(["query", "capital?", *flags], stdout=out) == 0
    assert "Paris" in out.getvalue() and reads == ["qwen3_rag"]
    reads.clear()
    assert main(["chat", *flags], stdout=out, stdin=io.StringIO("capital?\n")) == 0
    assert reads == ["qwen3_rag"]
