"""Timing the CPU kernels ``dtype="auto"`` chooses between, on the model's own layer shapes.

One probe times, for each kernel (:data:`.packing.KERNELS`: float32 ``nn.Linear``, float32 on
oneDNN, bfloat16), the same layers the runtime will run: a decoder layer's query projection and
its MLP (gate, then down), built as the runtime builds them (:mod:`.packing`), on ``rows`` tokens.
Rounds are interleaved (every kernel once per round, in a rotating order) and each kernel keeps
its median, so a burst of other work on a shared machine lands on every kernel alike and a single
slow call does not decide. The cost is bounded: the rows shrink for big models, and rounds stop
once ``budget_s`` is spent (at least :data:`MIN_ROUNDS`).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .packing import KERNELS, Kernel, PackedLinear, TiledLinear, onednn_available

MIN_ROUNDS = 3
MAX_ROUNDS = 9
DEFAULT_BUDGET_S = 0.6
_TARGET_FLOPS = 2.2e9  # per kernel per round: ~10-20 ms in float32 on two idle cores of a recent CPU


@dataclass(frozen=True)
class LayerShape:
    """The matmul shapes of one decoder layer (what the probe times)."""

    hidden: int
    attention: int  # query projection width: heads x head_dim
    ffn: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LayerShape:
        hidden = int(config["hidden_size"])
        heads = int(config.get("num_attention_heads") or 1)
        head_dim = int(config.get("head_dim") or hidden // heads)
        return cls(hidden, heads * head_dim, int(config["intermediate_size"]))

    @classmethod
    def from_folder(cls, folder: Path) -> LayerShape:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return cls.from_config(config.get("text_config", config))

    @property
    def label(self) -> str:
        return f"{self.hidden}x{self.attention}x{self.ffn}"

    @property
    def weights(self) -> int:
        return self.hidden * self.attention + 2 * self.hidden * self.ffn

    def probe_rows(self) -> int:
        """Tokens per timed pass: 128 for the 0.6B shape, fewer (>= 32) for bigger ones."""
        rows = int(_TARGET_FLOPS / (2 * self.weights)) // 32 * 32
        return max(32, min(256, rows))


@dataclass(frozen=True)
class ProbeResult:
    """Median seconds per kernel for one pass, and what the probe cost."""

    seconds: dict[str, float]
    rows: int
    rounds: int
    cost_s: float


Measure = Callable[[LayerShape], ProbeResult]


def candidate_kernels() -> tuple[Kernel, ...]:
    """The kernels this torch build can run (no oneDNN: float32 and bfloat16 only)."""
    return tuple(k for k in KERNELS if k != "float32-onednn" or onednn_available())


def _linear(n_in: int, n_out: int, dtype: torch.dtype) -> torch.nn.Linear:
    linear = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out, bias=False, dtype=dtype)
    with torch.no_grad():
        linear.weight.fill_(0.01)  # the values do not matter for speed, but never denormals
    return linear.requires_grad_(False)


def _layer(shape: LayerShape, kernel: Kernel) -> Callable[[torch.Tensor], torch.Tensor]:
    dtype = torch.bfloat16 if kernel == "bfloat16" else torch.float32
    plain = [
        _linear(shape.hidden, shape.attention, dtype),
        _linear(shape.hidden, shape.ffn, dtype),
        _linear(shape.ffn, shape.hidden, dtype),
    ]
    wrap: Callable[[torch.nn.Linear], torch.nn.Module] = (
        PackedLinear if kernel == "float32-onednn" else TiledLinear if kernel == "bfloat16" else (lambda m: m)
    )
    query, gate, down = (wrap(m) for m in plain)

    def run(x: torch.Tensor) -> torch.Tensor:
        query(x)
        return down(gate(x))

    return run


def time_kernels(
    shape: LayerShape,
    *,
    kernels: tuple[Kernel, ...] | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
) -> ProbeResult:
    """Median seconds of one pass per kernel, interleaved rounds within ``budget_s``."""
    started = time.perf_counter()
    kernels = kernels or candidate_kernels()
    rows = shape.probe_rows()
    x32 = torch.full((rows, shape.hidden), 0.5)
    inputs = {k: x32.bfloat16() if k == "bfloat16" else x32 for k in kernels}
    samples: dict[str, list[float]] = {k: [] for k in kernels}
    with torch.inference_mode():
        layers = {k: _layer(shape, k) for k in kernels}
        for kernel, layer in layers.items():
            layer(inputs[kernel])  # warm-up: oneDNN builds its kernels for this shape here
        rounds = 0
        while rounds < MAX_ROUNDS and (rounds < MIN_ROUNDS or time.perf_counter() - started < budget_s):
            order = kernels[rounds % len(kernels) :] + kernels[: rounds % len(kernels)]
            for kernel in order:
                start = time.perf_counter()
                layers[kernel](inputs[kernel])
                samples[kernel].append(time.perf_counter() - start)
            rounds += 1
    seconds = {k: statistics.median(v) for k, v in samples.items()}
    return ProbeResult(seconds, rows, rounds, time.perf_counter() - started)
