"""``quantize="int8"``: dynamic int8 linear layers in the decoder, opt-in, CPU and float32 only.

int8 is not faithful to the reference by design; these tests hold it to what it promises: the
decoder's linear layers (and nothing else) are quantized, results stay close to float32 (the
faithful load, which the fidelity tests prove), the quantized model is its own cache entry and
leaves the float32 one untouched, and every wrong combination is refused with the way out.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag._runtime.packing import PackedLinear
from qwen3_rag._runtime.quantization import resolve_quantize
from tests.support.texts import QUERY

TEXTS = [
    "Paris is the capital and largest city of France.",
    "Bananas are yellow when ripe.",
    "Qdrant stores vectors with payloads and filters them.",
    "The quick brown fox jumps over the lazy dog, twice.",
]
CPU = torch.device("cpu")


def _linear_kinds(module: torch.nn.Module) -> set[type]:
    kinds = (torch.nn.Linear, DynamicInt8Linear, PackedLinear)
    return {type(m) for m in module.modules() if isinstance(m, kinds)}


# ----------------------------------------------------------------------------- validation (no model)
@pytest.mark.parametrize(
    ("quantize", "device", "dtype", "pattern"),
    [
        ("int4", CPU, torch.float32, r"quantize='int4'; valid: None .* or 'int8'"),
        ("int8", torch.device("cuda", 0), torch.float32, r"CPU only.*device='cpu'"),
        ("int8", CPU, torch.bfloat16, r"float32 model.*dtype='bfloat16'.*dtype='float32' or dtype='auto'"),
    ],
)
def test_wrong_combinations_are_refused(
    quantize: str, device: torch.device, dtype: torch.dtype, pattern: str
) -> None:
    with pytest.raises(InvalidOptionError, match=pattern):
        resolve_quantize(quantize, device, dtype)


def test_no_quantization_is_none() -> None:
    assert resolve_quantize(None, CPU, torch.bfloat16) is None
    assert resolve_quantize("int8", CPU, torch.float32) == "int8"


def test_quantize_with_a_server_url_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match=r"quantize='int8' applies to a model run on this machine"):
        Qwen3Embedder.load("Qwen/Qwen3-Embedding-0.6B", base_url="http://127.0.0.1:9/v1", quantize="int8")


# ----------------------------------------------------------------------------- the models
def test_int8_embedder_quantizes_the_decoder_linears_and_stays_close(tiny_embedding_path: str) -> None:
    exact = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    int8 = Qwen3Embedder.load(tiny_embedding_path, device="cpu", quantize="int8")
    assert int8.runtime is not exact.runtime  # its own cache entry ...
    assert _linear_kinds(exact.model) == {torch.nn.Linear}  # ... leaving the float32 model as it was
    assert _linear_kinds(int8.model) == {DynamicInt8Linear}
    assert int8.model.get_input_embeddings().weight.dtype == torch.float32
    assert (int8.runtime.dtype, int8.runtime.quantize) == (torch.float32, "int8")
    assert "quantize='int8'" in repr(int8) and "int8 linear layers" in int8.backend.describe
    assert Qwen3Embedder.load(tiny_embedding_path, device="cpu", quantize="int8").runtime is int8.runtime

    got, want = int8.embed_documents(TEXTS), exact.embed_documents(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(got * want, axis=1)
    assert cosines.min() >= 0.99, cosines
    assert not np.array_equal(got, want)  # the int8 path really ran
    # The faithful model is untouched by its int8 sibling.
    np.testing.assert_array_equal(exact.embed_documents(TEXTS), want)


def test_int8_reranker_keeps_the_readout_in_float32_and_stays_close(tiny_reranker_path: str) -> None:
    exact = Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32")
    int8 = Qwen3Reranker.load(tiny_reranker_path, device="cpu", quantize="int8")
    assert _linear_kinds(int8.model.model) == {DynamicInt8Linear}
    assert type(int8.model.lm_head) is torch.nn.Linear  # the yes/no readout rows stay float32
    got = np.asarray(int8.score(QUERY, TEXTS))
    want = np.asarray(exact.score(QUERY, TEXTS))
    assert np.isfinite(got).all() and np.abs(got - want).max() <= 0.02
    assert not np.array_equal(got, want)


def test_auto_dtype_with_int8_is_float32_even_where_bf16_is_forced(
    monkeypatch: pytest.MonkeyPatch, tiny_embedding_path: str
) -> None:
    monkeypatch.setenv("QWEN3_RAG_CPU_DTYPE", "bfloat16")  # what auto would pick without int8
    int8 = Qwen3Embedder.load(tiny_embedding_path, device="cpu", quantize="int8")
    assert (int8.runtime.dtype, int8.runtime.quantize) == (torch.float32, "int8")
    with pytest.raises(InvalidOptionError, match="dtype='bfloat16'"):
        Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="bfloat16", quantize="int8")
