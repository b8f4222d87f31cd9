"""Native bfloat16 detection from the CPU flags (x86 ``avx512_bf16`` / ``amx_bf16``), which
``dtype="auto"`` no longer goes by, and auto's bfloat16 load (forced here)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._runtime import cpu_features
from qwen3_rag._runtime.devices import resolve_dtype


@pytest.fixture
def fresh_detection(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    cpu_features.has_native_bf16.cache_clear()
    yield monkeypatch
    cpu_features.has_native_bf16.cache_clear()


@pytest.mark.parametrize(
    "flags, native",
    [
        ({"avx2", "avx512f", "avx512_bf16"}, True),
        ({"avx2", "amx_tile", "amx_bf16"}, True),
        ({"avx2", "avx512f", "avx512bw", "avx512_vnni"}, False),  # AVX-512 without BF16: emulated
        ({"avx2", "fma"}, False),
    ],
)
def test_native_bf16_from_cpu_flags(
    fresh_detection: pytest.MonkeyPatch, flags: set[str], native: bool
) -> None:
    fresh_detection.setattr(cpu_features.platform, "machine", lambda: "x86_64")
    fresh_detection.setattr(cpu_features, "cpu_flags", lambda: frozenset(flags))
    assert cpu_features.has_native_bf16() is native


def test_non_x86_is_not_native(fresh_detection: pytest.MonkeyPatch) -> None:
    fresh_detection.setattr(cpu_features.platform, "machine", lambda: "aarch64")
    fresh_detection.setattr(cpu_features, "cpu_flags", lambda: frozenset({"bf16", "sve"}))
    assert cpu_features.has_native_bf16() is False  # ARM bf16: not measured here


def test_cpu_flags_reads_this_machine() -> None:
    flags = cpu_features.cpu_flags()
    assert isinstance(flags, frozenset)


# ----------------------------------------------------------------- dtype="auto" on CPU
CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_cpu_does_not_follow_the_flags(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """A flag is not a measurement: resolve_dtype's CPU "auto" is float32 whatever the flags say
    (a CPU load with "auto" measures instead: tests/runtime/test_cpu_choice.py)."""
    monkeypatch.setattr(cpu_features, "has_native_bf16", lambda: native)
    assert resolve_dtype("auto", CPU) is torch.float32
    assert resolve_dtype(None, CPU) is torch.float32
    assert resolve_dtype("bfloat16", CPU) is torch.bfloat16  # an explicit dtype always wins
    assert resolve_dtype(torch.float32, CPU) is torch.float32


def test_the_test_session_runs_auto_as_float32() -> None:
    """conftest.py: fidelity tests that leave dtype to "auto" compare float32 on every machine,
    and no test writes the user's cache dir."""
    assert os.environ["QWEN3_RAG_CPU_DTYPE"] == "float32"
    assert "qwen3-rag-test-cache-" in os.environ["QWEN3_RAG_CACHE_DIR"]


def test_auto_loads_both_models_in_bfloat16_where_chosen(
    monkeypatch: pytest.MonkeyPatch, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    exact_embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    exact_reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32")
    monkeypatch.setenv("QWEN3_RAG_CPU_DTYPE", "bfloat16")
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu")
    reranker = Qwen3Reranker.load(tiny_reranker_path, device="cpu")
    assert embedder.runtime.dtype == torch.bfloat16 and reranker.runtime.dtype == torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in reranker.model.parameters())
    texts = ["Paris is the capital of France.", "Bananas are yellow.", "Qdrant stores vectors."]
    cosines = np.sum(embedder.embed_documents(texts) * exact_embedder.embed_documents(texts), axis=1)
    assert cosines.min() >= 0.99
    scores = reranker.score("capital of France?", texts)
    assert np.isfinite(scores).all()
    assert np.abs(np.subtract(scores, exact_reranker.score("capital of France?", texts))).max() <= 0.05
