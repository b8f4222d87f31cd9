"""Opt-in: float32 linear layers on CPU through oneDNN, with the weights converted once at load.

At the 0.6B model's biggest matmul shape this machine's ``nn.Linear`` (MKL sgemm) reaches about
226 GFLOP/s on two threads and oneDNN with an mkldnn weight about 508 (docs/benchmarks.md,
"Hardware use"); 0.6B-shape embedding ran 1.8x faster. The numbers stay float32 matmuls (only
the summation order differs): within 1e-5 of ``nn.Linear``.

Off unless ``QWEN3_RAG_PACKED_LINEAR=1``: the process's memory grows with every new batch shape
oneDNN sees (measured: +520 MiB over 78 distinct shapes on the small shape, where ``nn.Linear``
stays flat), and a limited oneDNN primitive cache does not stop it. Fine for a batch job with
few shapes; not for a long-running server. Not used for bf16 (``nn.Linear`` already runs at
oneDNN's rate), int8 (its own kernels) or GPUs.
"""

from __future__ import annotations

import os

import torch

ENV_SWITCH = "QWEN3_RAG_PACKED_LINEAR"


class PackedLinear(torch.nn.Module):
    """An ``nn.Linear`` whose weight lives as an mkldnn tensor; input and output stay dense."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.register_buffer("weight", linear.weight.detach().to_mkldnn(), persistent=False)
        bias = None if linear.bias is None else linear.bias.detach().to_mkldnn()
        self.register_buffer("bias", bias, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to_mkldnn()  # oneDNN's 2-D path is the fast one
        out = torch._C._nn.mkldnn_linear(rows, self.weight, self.bias).to_dense()
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, oneDNN"


def packing_applies(device: torch.device, dtype: torch.dtype, quantize: str | None) -> bool:
    """Whether a model loaded with these settings gets :class:`PackedLinear` layers."""
    return (
        device.type == "cpu"
        and dtype == torch.float32
        and quantize is None
        and torch.backends.mkldnn.is_available()
        and os.environ.get(ENV_SWITCH, "0") == "1"
    )


def pack_decoder_linears(model: torch.nn.Module) -> int:
    """Replace every ``nn.Linear`` in the decoder with a :class:`PackedLinear`; how many."""
    decoder: torch.nn.Module = model.get_decoder() if hasattr(model, "get_decoder") else model  # type: ignore[operator]
    replaced = 0
    for parent in list(decoder.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(parent, name, PackedLinear(child))
                replaced += 1
    return replaced
