"""Injected out-of-memory errors and NaN outputs: split, recompute, or refuse; never a bad vector."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from qwen3_rag import NumericalError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag._runtime.resilience import recompute_non_finite, split_on_out_of_memory

TEXTS = [f"document {i} " + "word " * (i * 3) for i in range(8)]


def test_split_on_out_of_memory_halves_until_it_fits(caplog: pytest.LogCaptureFixture) -> None:
    sizes: list[int] = []

    def forward(sequences: list[list[int]]) -> np.ndarray:
        sizes.append(len(sequences))
        if len(sequences) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return np.array([[sum(s)] for s in sequences], dtype=np.float32)

    run = split_on_out_of_memory(forward, "test")
    with caplog.at_level(logging.WARNING):
        result = run([[i] for i in range(8)])
    assert result[:, 0].tolist() == list(range(8))
    assert sizes == [8, 4, 2, 2, 4, 2, 2]
    assert "out of memory" in caplog.text and "batch_tokens" in caplog.text


def test_out_of_memory_on_a_single_item_is_raised() -> None:
    def forward(sequences: list[list[int]]) -> np.ndarray:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB")

    with pytest.raises(RuntimeError, match="can't allocate memory"):
        split_on_out_of_memory(forward, "test")([[1]])


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def forward(sequences: list[list[int]]) -> np.ndarray:
        calls.append(len(sequences))
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        split_on_out_of_memory(forward, "test")([[1], [2]])
    assert calls == [2]


def test_non_finite_rows_are_recomputed_alone() -> None:
    def forward(sequences: list[list[int]]) -> np.ndarray:
        out = np.array([[float(sum(s))] for s in sequences], dtype=np.float32)
        if len(sequences) > 1:
            out[0] = np.nan  # e.g. an fp16 overflow that only happens padded in a batch
        return out

    assert recompute_non_finite(forward)([[1], [2], [3]])[:, 0].tolist() == [1.0, 2.0, 3.0]


@pytest.fixture
def patched_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Lets a test replace the loaded model's forward and restores it afterwards."""

    def patch(model: Any, wrapper: Any) -> None:
        monkeypatch.setattr(model, "forward", wrapper(model.forward))

    yield patch


def test_embedding_batch_that_runs_out_of_memory_gives_identical_vectors(
    tiny_embedding_path: str, patched_model: Any
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, dtype="float32")
    expected = embedder.embed_documents(TEXTS)

    def wrapper(real: Any) -> Any:
        def forward(*args: Any, **kwargs: Any) -> Any:
            if kwargs["input_ids"].shape[0] > 2:
                raise torch.OutOfMemoryError("CUDA out of memory (injected)")
            return real(*args, **kwargs)

        return forward

    patched_model(embedder.model, wrapper)
    assert np.abs(embedder.embed_documents(TEXTS) - expected).max() <= 1e-5


async def test_nan_only_in_batch_is_recomputed_and_always_nan_fails_only_its_caller(
    tiny_embedding_path: str, patched_model: Any
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, dtype="float32")
    expected = embedder.embed_documents(TEXTS)
    always_bad = embedder.encode_ids(["always nan"])[0][0]
    batch_bad = embedder.encode_ids(["document 0 "])[0][0]

    def wrapper(real: Any) -> Any:
        def forward(*args: Any, **kwargs: Any) -> Any:
            output = real(*args, **kwargs)
            ids = kwargs["input_ids"]
            for row in range(ids.shape[0]):
                first = ids[row][kwargs["attention_mask"][row].bool()][0].item()
                if first == always_bad or (first == batch_bad and ids.shape[0] > 1):
                    output.last_hidden_state[row, -1, 0] = float("nan")
            return output

        return forward

    patched_model(embedder.model, wrapper)
    assert np.abs(embedder.embed_documents(TEXTS) - expected).max() <= 1e-5
    results: list[Any] = await asyncio.gather(
        embedder.aembed_documents(TEXTS[1:]),
        embedder.aembed_documents(["always nan"]),
        return_exceptions=True,
    )
    good, bad = results
    assert isinstance(good, np.ndarray) and np.abs(good - expected[1:]).max() <= 1e-5
    assert isinstance(bad, NumericalError) and "dtype='float32'" in str(bad)


def test_reranker_never_returns_a_nan_score(tiny_reranker_path: str, patched_model: Any) -> None:
    reranker = Qwen3Reranker.load(tiny_reranker_path)

    def wrapper(real: Any) -> Any:
        def forward(*args: Any, **kwargs: Any) -> Any:
            output = real(*args, **kwargs)
            output.last_hidden_state[:, -1, :] = float("nan")  # what the yes/no readout reads
            return output

        return forward

    patched_model(reranker.model.base_model, wrapper)
    with pytest.raises(NumericalError, match="no score was returned"):
        reranker.score("q", ["a", "b"])
