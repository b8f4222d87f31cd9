"""Native bfloat16 detection on CPU (x86 ``avx512_bf16`` / ``amx_bf16``; overridable)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qwen3_rag._runtime import cpu_features


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
    fresh_detection.delenv("QWEN3_RAG_CPU_BF16", raising=False)
    fresh_detection.setattr(cpu_features.platform, "machine", lambda: "x86_64")
    fresh_detection.setattr(cpu_features, "cpu_flags", lambda: frozenset(flags))
    assert cpu_features.has_native_bf16() is native


def test_non_x86_and_override(fresh_detection: pytest.MonkeyPatch) -> None:
    fresh_detection.delenv("QWEN3_RAG_CPU_BF16", raising=False)
    fresh_detection.setattr(cpu_features.platform, "machine", lambda: "aarch64")
    fresh_detection.setattr(cpu_features, "cpu_flags", lambda: frozenset({"bf16", "sve"}))
    assert cpu_features.has_native_bf16() is False  # ARM bf16: not measured, stays float32
    cpu_features.has_native_bf16.cache_clear()
    fresh_detection.setenv("QWEN3_RAG_CPU_BF16", "1")
    assert cpu_features.has_native_bf16() is True
    cpu_features.has_native_bf16.cache_clear()
    fresh_detection.setenv("QWEN3_RAG_CPU_BF16", "0")
    fresh_detection.setattr(cpu_features.platform, "machine", lambda: "x86_64")
    fresh_detection.setattr(cpu_features, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert cpu_features.has_native_bf16() is False


def test_cpu_flags_reads_this_machine() -> None:
    flags = cpu_features.cpu_flags()
    assert isinstance(flags, frozenset)
