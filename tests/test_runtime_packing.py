"""Opt-in (``QWEN3_RAG_PACKED_LINEAR=1``): float32 on CPU runs the decoder's linear layers
through oneDNN (:mod:`qwen3_rag._runtime.packing`). These tests pin where it applies, what it
replaces, and that it computes what the plain model does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._runtime.packing import ENV_SWITCH, PackedLinear, packing_applies
from qwen3_rag.testing import write_tiny_checkpoints

CPU = torch.device("cpu")
TEXTS = ["Paris is the capital of France.", "Bananas are yellow.", "Qdrant stores vectors."]


@pytest.mark.parametrize(
    ("device", "dtype", "quantize", "applies"),
    [
        (CPU, torch.float32, None, True),
        (CPU, torch.bfloat16, None, False),  # bf16 nn.Linear already runs at oneDNN's rate
        (CPU, torch.float16, None, False),
        (CPU, torch.float32, "int8", False),  # int8 has its own kernels
        (torch.device("cuda", 0), torch.float32, None, False),
    ],
)
def test_where_packing_applies(
    device: torch.device,
    dtype: torch.dtype,
    quantize: str | None,
    applies: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_SWITCH, "1")
    assert packing_applies(device, dtype, quantize) is applies


@pytest.mark.parametrize("value", [None, "0", "yes"])
def test_it_is_off_unless_the_switch_is_1(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(ENV_SWITCH, raising=False)
    else:
        monkeypatch.setenv(ENV_SWITCH, value)
    assert packing_applies(CPU, torch.float32, None) is False


@pytest.fixture
def packed_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fresh checkpoints (their own cache entries), loaded with the switch on."""
    monkeypatch.setenv(ENV_SWITCH, "1")
    return write_tiny_checkpoints(tmp_path)


@pytest.mark.models
@pytest.mark.parametrize("bias", [True, False])
def test_packed_linear_equals_nn_linear(bias: bool) -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 96, bias=bias).requires_grad_(False)
    x = torch.randn(3, 7, 64)
    packed = PackedLinear(linear)
    got = packed(x)
    assert got.shape == (3, 7, 96) and got.dtype == torch.float32 and not got.is_mkldnn
    torch.testing.assert_close(got, linear(x), atol=1e-5, rtol=1e-5)


@pytest.mark.models
def test_float32_models_on_cpu_load_packed(packed_folders: dict[str, Path]) -> None:
    embedder = Qwen3Embedder.load(str(packed_folders["embedding"]), device="cpu", dtype="float32")
    reranker = Qwen3Reranker.load(str(packed_folders["reranker"]), device="cpu", dtype="float32")
    for decoder in (embedder.model, reranker.model.model):
        kinds = {type(m) for m in decoder.modules() if isinstance(m, (torch.nn.Linear, PackedLinear))}
        assert kinds == {PackedLinear}
    assert type(reranker.model.lm_head) is torch.nn.Linear  # the readout rows are read from it


@pytest.mark.models
def test_the_packed_model_computes_what_the_plain_one_does(packed_folders: dict[str, Path]) -> None:
    folder = str(packed_folders["embedding"])
    packed = Qwen3Embedder.load(folder, device="cpu", dtype="float32")
    plain = type(packed.model).from_pretrained(folder, dtype=torch.float32).eval()
    assert not any(isinstance(m, PackedLinear) for m in plain.modules())
    batch = packed.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = plain(**batch).last_hidden_state
        got = packed.model(**batch).last_hidden_state
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert any(isinstance(m, PackedLinear) for m in packed.model.modules())
