"""Library errors name the Python parameters that fix them (``qdrant_url=``, ``collection=``,
``embedding_model=``); the command line says the same with its flags (``_cli/errors.as_flags``)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from qwen3_rag import CollectionMismatchError, CollectionNotFoundError, StoreConnectionError
from qwen3_rag._cli import main
from qwen3_rag._cli.errors import PARAMETER_FLAGS, as_flags
from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore, TwoStageRetriever


def test_a_mismatch_names_the_parameters_in_python_and_the_flags_in_the_cli(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    with QdrantStore("kb", path=folder) as store:
        store.ensure(EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", 1024))
        with pytest.raises(CollectionMismatchError) as caught:
            store.open(EmbeddingSpec("Qwen/Qwen3-Embedding-4B", 2560))
    message = str(caught.value)
    assert "embedding_model='Qwen/Qwen3-Embedding-0.6B' (and dimensions=1024)" in message
    assert "another collection=" in message and "--" not in message
    assert as_flags(message).endswith(
        "Use --embedding-model Qwen/Qwen3-Embedding-0.6B (and --dimensions 1024), or ingest into "
        "another --collection."
    )


def test_a_missing_store_names_qdrant_path_for_a_framework_user(tmp_path: Path) -> None:
    # A LangChain or LlamaIndex retriever opens the store this way (TwoStageRetriever.from_collection).
    with pytest.raises(CollectionNotFoundError, match=r"point qdrant_path= at an existing store"):
        TwoStageRetriever.from_collection("kb", qdrant_path=tmp_path / "none", reranker="/no/model")


def test_a_locked_folder_names_qdrant_url_in_python_and_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "q"
    with QdrantStore("kb", path=folder) as store:
        store.ensure(EmbeddingSpec("m", 4))
        with pytest.raises(StoreConnectionError) as caught:
            QdrantStore("kb", path=folder)
        assert "pass qdrant_url=" in str(caught.value) and "--qdrant-url" not in str(caught.value)
        code = main(["sources", "--qdrant-path", os.fspath(folder)], stdout=io.StringIO())
    assert code == 1
    assert "pass --qdrant-url)" in capsys.readouterr().err


def test_no_library_error_message_names_a_store_or_model_flag() -> None:
    """Flags the CLI translates never appear in the pipeline's own messages."""
    root = Path(__file__).resolve().parent.parent / "qwen3_rag" / "pipeline"
    flags = set(PARAMETER_FLAGS.values())
    offending = []
    for path in sorted(root.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            named = any(f"{flag} " in line or f"{flag}." in line or f"{flag})" in line for flag in flags)
            if named and "qwen3-rag " not in line:  # a whole command shown to run is fine
                offending.append(f"{path.name}:{number}: {line.strip()}")
    assert offending == []
