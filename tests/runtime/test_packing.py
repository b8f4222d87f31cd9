"""The bounded CPU linear layers (:mod:`qwen3_rag._runtime.packing`): float32 on oneDNN (what
``dtype="auto"`` may pick, or ``QWEN3_RAG_PACKED_LINEAR=1`` for an explicit float32) and bfloat16,
both running rows in tiles of a bounded set of shapes. These tests pin where they apply, what they
replace, that the number of matmul shapes is bounded whatever the traffic, and that they compute
what the plain layers do. The memory they keep flat is measured in benchmarks/cpu_memory.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._runtime.packing import (
    ENV_SWITCH,
    ROW_STEP,
    ROW_TILE,
    PackedLinear,
    TiledLinear,
    packing_applies,
    row_tiles,
)
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


# ----------------------------------------------------------------- bounded shapes
def test_row_tiles_cover_every_row_once_with_a_bounded_set_of_shapes() -> None:
    padded_sizes: set[int] = set()
    for rows in range(1, 5 * ROW_TILE + 3):
        tiles = row_tiles(rows)
        assert sum(count for _, count, _ in tiles) == rows
        assert [start for start, _, _ in tiles] == list(range(0, rows, ROW_TILE))
        for _, count, padded in tiles:
            assert count <= padded < count + ROW_STEP and padded % ROW_STEP == 0
            padded_sizes.add(padded)
    assert padded_sizes == set(range(ROW_STEP, ROW_TILE + 1, ROW_STEP))  # 16 shapes, whatever the rows


@pytest.mark.models
@pytest.mark.parametrize("layer_cls", [PackedLinear, TiledLinear])
def test_a_layer_sees_at_most_the_bounded_shapes_over_200_batch_shapes(layer_cls: type) -> None:
    dtype = torch.float32 if layer_cls is PackedLinear else torch.bfloat16
    layer = layer_cls(torch.nn.Linear(32, 48, bias=False, dtype=dtype).requires_grad_(False))
    seen: set[tuple[int, ...]] = set()
    matmul = layer._matmul

    def counting(rows: torch.Tensor) -> torch.Tensor:
        seen.add(tuple(rows.shape))
        return matmul(rows)

    layer._matmul = counting
    with torch.inference_mode():
        for batch, tokens in [(1 + i % 13, 5 + (i * 37) % 400) for i in range(200)]:
            layer(torch.randn(batch, tokens, 32, dtype=dtype))
    assert len(seen) <= ROW_TILE // ROW_STEP
    assert {rows for rows, _ in seen} <= set(range(ROW_STEP, ROW_TILE + 1, ROW_STEP))


@pytest.mark.models
@pytest.mark.parametrize("rows", [1, 63, 64, 65, ROW_TILE, 2 * ROW_TILE + 37])
def test_tiles_compute_what_nn_linear_does(rows: int) -> None:
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 96).requires_grad_(False)
    x = torch.randn(rows, 64)
    torch.testing.assert_close(PackedLinear(linear)(x), linear(x), atol=1e-5, rtol=1e-5)
    bf16 = torch.nn.Linear(64, 96, dtype=torch.bfloat16).requires_grad_(False)
    tiled = TiledLinear(bf16)
    got = tiled(x.bfloat16().reshape(1, rows, 64))
    assert got.shape == (1, rows, 96) and got.dtype == torch.bfloat16
    torch.testing.assert_close(got[0], bf16(x.bfloat16()), atol=2e-2, rtol=2e-2)
    assert tiled.weight is bf16.weight  # the same parameter: dtype casts and state_dict see it


@pytest.mark.models
def test_an_explicit_bfloat16_load_on_cpu_is_tiled(tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="bfloat16")
    kinds = {type(m) for m in embedder.model.modules() if isinstance(m, (torch.nn.Linear, TiledLinear))}
    assert kinds == {TiledLinear}
    assert embedder.runtime.kernel == "bfloat16"
    assert all(p.dtype == torch.bfloat16 for p in embedder.model.parameters())
