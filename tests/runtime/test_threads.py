"""``torch.set_num_threads`` in the application reaches the forward passes, even when it is set
after the model loaded (they run on the micro-batcher's worker thread, whose OpenMP thread count
torch would otherwise leave at what it was when that thread started)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from qwen3_rag import Qwen3Embedder, Qwen3Reranker

pytestmark = pytest.mark.models  # every test here builds or loads a model


@pytest.fixture
def restored_threads() -> Iterator[int]:
    original = torch.get_num_threads()
    yield original
    torch.set_num_threads(original)


def _spy_forward(model: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = model.forward

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())  # on the worker thread
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    return seen


def test_embedding_forward_passes_follow_the_callers_thread_count(
    tiny_embedding_path: str, monkeypatch: pytest.MonkeyPatch, restored_threads: int
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    embedder.embed_documents(["the worker thread exists and has its count"])
    seen = _spy_forward(embedder.model, monkeypatch)
    other = 1 if restored_threads != 1 else 2
    torch.set_num_threads(other)
    embedder.embed_documents(["one"])
    asyncio.run(embedder.aembed_documents(["two"]))
    torch.set_num_threads(restored_threads)
    embedder.embed_documents(["three"])
    assert seen == [other, other, restored_threads]


def test_reranker_forward_passes_follow_the_callers_thread_count(
    tiny_reranker_path: str, monkeypatch: pytest.MonkeyPatch, restored_threads: int
) -> None:
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32")
    reranker.score("q", ["the worker thread exists"])
    seen = _spy_forward(reranker.model.model, monkeypatch)  # the decoder (the readout is apart)
    other = 1 if restored_threads != 1 else 2
    torch.set_num_threads(other)
    reranker.score("q", ["a document"])
    asyncio.run(reranker.ascore("q", ["another document"]))
    assert seen == [other, other]
