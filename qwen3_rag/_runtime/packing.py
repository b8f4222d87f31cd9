"""CPU linear layers that see a bounded number of matmul shapes: float32 on oneDNN, and bfloat16.

Why bounded. oneDNN (torch's float32 ``mkldnn_linear`` and every bfloat16 ``nn.Linear`` on CPU)
builds one primitive per matmul shape and keeps it in two caches: oneDNN's own primitive cache
(``ONEDNN_PRIMITIVE_CACHE_CAPACITY``, default 1024 entries) and ideep's computation cache
(``LRU_CACHE_CAPACITY``, default 1024). Each primitive holds its JIT kernels and buffers, so a
process that sees a new batch shape per call (a server: rows = batch x padded length) grows until
both caches are full. Measured on this project's CPU (AMD EPYC, 2 threads, a shared machine),
three weights (hidden x ffn, ffn x hidden, hidden x hidden) over ~200 distinct row counts:

- hidden 256, ffn 768: oneDNN float32 +350 MiB (+293 after ``malloc_trim``), bfloat16
  ``nn.Linear`` +396 (+342), MKL float32 ``nn.Linear`` +13 (+4); oneDNN float32 with
  ``ONEDNN_PRIMITIVE_CACHE_CAPACITY=8`` +187, with ``LRU_CACHE_CAPACITY=8`` +294, with both +16
  (+0): the two caches hold it, not the allocator;
- hidden 1024, ffn 3072 (0.6B), 180 row counts: oneDNN float32 +1030 MiB (+291 after
  ``malloc_trim``: here the allocator also keeps freed per-shape buffers), bfloat16 +369 (+339);
  through these layers +72 (+26), flat after the first buckets.

Capacities are process-global and read once, before this library can set them (and small ones
slow every other oneDNN user), so the layers here bound the shapes instead: the rows go through in tiles
of :data:`ROW_TILE`, the last tile padded up to a multiple of :data:`ROW_STEP`, which is at most
``ROW_TILE / ROW_STEP`` shapes per weight shape, whatever the traffic (padding rows are zeros and
are cut off; each output row depends only on its own input row).

The float32 layer keeps its weight as an mkldnn tensor, converted once at load: on some CPUs
oneDNN's float32 kernel is up to ~2x MKL's ``nn.Linear`` (docs/benchmarks.md, "Hardware use"), on
others it is not; ``dtype="auto"`` measures (:mod:`.cpu_choice`). Same float32 numbers to 1e-5
(only the summation order differs).
"""

from __future__ import annotations

from typing import Literal

import torch

from .._environment import QWEN3_RAG_PACKED_LINEAR

ENV_SWITCH = QWEN3_RAG_PACKED_LINEAR.name
"""``1``: an explicit ``dtype="float32"`` CPU load uses the oneDNN kernel too (``auto`` measures)."""

ROW_TILE = 1024
"""Rows per matmul call: large enough that a tile runs at the kernel's full rate."""
ROW_STEP = 64
"""The last tile's rows are rounded up to a multiple of this (at most 63 padding rows)."""

Kernel = Literal["float32", "float32-onednn", "bfloat16"]
KERNELS: tuple[Kernel, ...] = ("float32", "float32-onednn", "bfloat16")


def row_tiles(rows: int) -> list[tuple[int, int, int]]:
    """``(start, rows, padded rows)`` per tile: full tiles of :data:`ROW_TILE`, then the rest."""
    tiles = []
    for start in range(0, rows, ROW_TILE):
        count = min(ROW_TILE, rows - start)
        tiles.append((start, count, -(-count // ROW_STEP) * ROW_STEP))
    return tiles


def _tiled(x: torch.Tensor, in_features: int, out_features: int, matmul: object) -> torch.Tensor:
    rows = x.reshape(-1, in_features)
    outs = []
    for start, count, padded in row_tiles(rows.shape[0]):
        part = rows[start : start + count]
        if padded != count:
            part = torch.nn.functional.pad(part, (0, 0, 0, padded - count))
        outs.append(matmul(part)[:count])  # type: ignore[operator]
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    return out.reshape(*x.shape[:-1], out_features)


class PackedLinear(torch.nn.Module):
    """A float32 ``nn.Linear`` on oneDNN: the weight an mkldnn tensor, rows in bounded tiles."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.register_buffer("weight", linear.weight.detach().float().to_mkldnn(), persistent=False)
        bias = None if linear.bias is None else linear.bias.detach().float().to_mkldnn()
        self.register_buffer("bias", bias, persistent=False)

    def _matmul(self, rows: torch.Tensor) -> torch.Tensor:
        # oneDNN's 2-D path is the fast one; the input goes in and out of its layout per tile.
        return torch._C._nn.mkldnn_linear(rows.contiguous().to_mkldnn(), self.weight, self.bias).to_dense()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _tiled(x, self.in_features, self.out_features, self._matmul)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, oneDNN float32"


class TiledLinear(torch.nn.Module):
    """An ``nn.Linear`` (bfloat16 on CPU) whose rows go through in bounded tiles."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.weight = linear.weight  # the same parameters: state_dict and dtype casts still see them
        self.bias = linear.bias

    def _matmul(self, rows: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(rows, self.weight, self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _tiled(x, self.in_features, self.out_features, self._matmul)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, row tiles"


def kernel_for(device: torch.device, dtype: torch.dtype, quantize: str | None) -> Kernel | None:
    """The bounded kernel an explicit ``dtype`` load gets (``None``: plain ``nn.Linear``).

    bfloat16 on CPU is always tiled (its memory would grow otherwise); float32 uses oneDNN only
    with ``QWEN3_RAG_PACKED_LINEAR=1`` (``dtype="auto"`` decides by measurement instead).
    """
    if device.type != "cpu" or quantize is not None:
        return None
    if dtype == torch.bfloat16:
        return "bfloat16"
    if dtype == torch.float32 and onednn_available() and QWEN3_RAG_PACKED_LINEAR.get():
        return "float32-onednn"
    return None


def onednn_available() -> bool:
    return bool(torch.backends.mkldnn.is_available())


def packing_applies(device: torch.device, dtype: torch.dtype, quantize: str | None) -> bool:
    """Whether an explicit ``dtype`` load gets :class:`PackedLinear` layers (the opt-in switch)."""
    return kernel_for(device, dtype, quantize) == "float32-onednn"


def bound_decoder_linears(model: torch.nn.Module, kernel: Kernel) -> int:
    """Replace every ``nn.Linear`` in the decoder with the bounded layer of ``kernel``; how many.

    ``"float32"`` (MKL's ``nn.Linear``, flat memory) replaces nothing.
    """
    if kernel == "float32":
        return 0
    layer = PackedLinear if kernel == "float32-onednn" else TiledLinear
    decoder: torch.nn.Module = model.get_decoder() if hasattr(model, "get_decoder") else model  # type: ignore[operator]
    replaced = 0
    for parent in list(decoder.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(parent, name, layer(child))
                replaced += 1
    return replaced


def pack_decoder_linears(model: torch.nn.Module) -> int:
    """Every decoder ``nn.Linear`` becomes a :class:`PackedLinear`; how many."""
    return bound_decoder_linears(model, "float32-onednn")
