"""Memory over many batch shapes, per CPU kernel (issue 25): does the process stay flat?

oneDNN builds and caches one primitive per matmul shape (see qwen3_rag/_runtime/packing.py), so a
process serving many batch shapes can grow. Two measurements, each in a fresh child process (its
RSS is its own, whatever else the machine runs):

- ``matmul``: three weights of a shape (hidden x ffn, ffn x hidden, hidden x hidden) run on 200
  row counts, raw (one call per shape, as torch runs them) and through the runtime's bounded
  layers; RSS growth after the first call, and after ``malloc_trim`` (what the allocator held).
- ``model``: ``Qwen3Embedder`` loaded with each kernel ``dtype="auto"`` can pick (forced through
  ``QWEN3_RAG_CPU_DTYPE``), a warm-up of one batch per row bucket, then 200 distinct batch shapes
  (sequences x tokens) through the runtime's batcher; RSS after the warm-up vs the largest after.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import sys
from typing import Any

from .procfs import proc_mb

MATMUL_FORMS = (
    "float32 nn.Linear",
    "float32 oneDNN raw",
    "float32 oneDNN tiled",
    "bfloat16 raw",
    "bfloat16 tiled",
)
MODEL_KERNELS = ("float32", "float32-onednn", "bfloat16")


def _trim() -> None:
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def row_counts(n: int, *, low: int = 17, high: int = 1024, seed: int = 25) -> list[int]:
    """``n`` distinct row counts in ``[low, high]`` (a fixed shuffle: the same in every run)."""
    counts = random.Random(seed).sample(range(low, high + 1), n)
    return counts


# ----------------------------------------------------------------------------- children
def child_matmul(form: str, hidden: int, ffn: int, shapes: int) -> dict[str, Any]:
    import torch

    from qwen3_rag._runtime.packing import PackedLinear, TiledLinear

    dtype = torch.bfloat16 if form.startswith("bfloat16") else torch.float32
    dims = [(hidden, ffn), (ffn, hidden), (hidden, hidden)]
    linears = [torch.nn.Linear(i, o, bias=False, dtype=dtype).requires_grad_(False) for i, o in dims]
    if form == "float32 oneDNN tiled":
        layers: list[Any] = [PackedLinear(m) for m in linears]
    elif form == "bfloat16 tiled":
        layers = [TiledLinear(m) for m in linears]
    elif form == "float32 oneDNN raw":
        weights = [m.weight.to_mkldnn() for m in linears]
        layers = [
            (lambda x, w=w: torch._C._nn.mkldnn_linear(x.to_mkldnn(), w, None).to_dense()) for w in weights
        ]
    else:
        layers = linears

    def run(rows: int) -> None:
        x = torch.full((rows, hidden), 0.5, dtype=dtype)
        with torch.inference_mode():
            layers[2](layers[1](layers[0](x)))

    run(64)
    start = proc_mb("VmRSS")
    for rows in row_counts(shapes):
        run(rows)
    grown = proc_mb("VmRSS") - start
    _trim()
    return {
        "form": form,
        "shapes": shapes,
        "rss_start_mib": start,
        "growth_mib": grown,
        "growth_after_trim_mib": proc_mb("VmRSS") - start,
    }


def child_model(folder: str, kernel: str, shapes: int) -> dict[str, Any]:
    os.environ["QWEN3_RAG_CPU_DTYPE"] = kernel
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag._runtime.packing import ROW_STEP, ROW_TILE

    model = Qwen3Embedder.load(folder, device="cpu", dtype="auto")
    batcher = model.runtime.batcher
    budget = batcher.token_budget

    def identity(payloads: Any) -> list[list[int]]:
        return [list(p) for p in payloads]

    def batch(sequences: int, tokens: int) -> None:
        ids = [[1000 + (i * 7 + j) % 50_000 for j in range(tokens - 1)] + [151643] for i in range(sequences)]
        batcher.run(ids, identity)

    batch(1, 16)
    loaded = proc_mb("VmRSS")
    for rows in range(ROW_STEP, ROW_TILE + 1, ROW_STEP):  # one batch per row bucket: the warm-up
        batch(1, rows)
    warm = proc_mb("VmRSS")
    rng = random.Random(25)
    seen: set[tuple[int, int]] = set()
    peak, trace = warm, []
    while len(seen) < shapes:
        sequences = rng.randint(1, 8)
        tokens = rng.randint(8, max(9, min(256, budget // sequences)))
        if (sequences, tokens) in seen:
            continue
        seen.add((sequences, tokens))
        batch(sequences, tokens)
        now = proc_mb("VmRSS")
        peak = max(peak, now)
        if len(seen) % 50 == 0:
            trace.append(round(now - warm, 1))
    model.close()
    return {
        "kernel": kernel,
        "shapes": shapes,
        "rss_loaded_mib": loaded,
        "rss_after_warmup_mib": warm,
        "rss_peak_mib": peak,
        "growth_mib": peak - warm,
        "growth_share": (peak - warm) / warm,
        "warmup_growth_mib": warm - loaded,
        "trace_mib": trace,
    }


# ----------------------------------------------------------------------------- parent
def _child(args: list[str]) -> dict[str, Any]:
    from .common import run_module  # parent only: the measured child imports nothing it need not

    env = {**os.environ}
    env.pop("QWEN3_RAG_CPU_DTYPE", None)
    done = run_module("benchmarks.cpu_memory", args, env=env, timeout=1800)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def measure(
    small_embedding: str, *, hidden: int, ffn: int, shapes: int = 200, name: str = "small"
) -> dict[str, Any]:
    """Both measurements, each form and kernel in its own child process."""
    return {
        "shape": name,
        "matmul_shape": [hidden, ffn],
        "matmul": [_child(["matmul", form, str(hidden), str(ffn), str(shapes)]) for form in MATMUL_FORMS],
        "model": [_child(["model", small_embedding, kernel, str(shapes)]) for kernel in MODEL_KERNELS],
    }


def main(argv: list[str]) -> int:
    if argv[0] == "matmul":
        out = child_matmul(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
    else:
        out = child_model(argv[1], argv[2], int(argv[3]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
