"""RSS over 200 batch shapes per CPU kernel (issue 25): oneDNN caches one primitive per matmul shape
(qwen3_rag/_runtime/packing.py), so a process serving many shapes can grow. Per kernel
``dtype="auto"`` can pick (forced through ``QWEN3_RAG_CPU_DTYPE``), in a fresh child process (its
RSS is its own): ``Qwen3Embedder`` loaded, one batch per row bucket (the warm-up), then 200 distinct
batch shapes through the runtime's batcher; RSS after the warm-up vs the largest after."""

from __future__ import annotations

import json
import os
import random
import sys
from typing import Any

from .procfs import proc_mb

SHAPES = 200
KERNELS = ("float32", "float32-onednn", "bfloat16")


def child(folder: str, kernel: str) -> dict[str, Any]:
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag._environment import QWEN3_RAG_CPU_DTYPE
    from qwen3_rag._runtime.packing import ROW_STEP, ROW_TILE

    os.environ[QWEN3_RAG_CPU_DTYPE.name] = kernel
    model = Qwen3Embedder.load(folder, device="cpu", dtype="auto")
    batcher = model.runtime.batcher

    def rss_after(sequences: int, tokens: int) -> float:
        ids = [[1000 + (i * 7 + j) % 50_000 for j in range(tokens - 1)] + [151643] for i in range(sequences)]
        batcher.run(ids, lambda payloads: [list(p) for p in payloads])
        return proc_mb("VmRSS")

    loaded = rss_after(1, 16)
    warm = [rss_after(1, rows) for rows in range(ROW_STEP, ROW_TILE + 1, ROW_STEP)][-1]
    rng, seen, after = random.Random(25), set[tuple[int, int]](), []
    while len(seen) < SHAPES:
        sequences = rng.randint(1, 8)
        shape = (sequences, rng.randint(8, max(9, min(256, batcher.token_budget // sequences))))
        if shape not in seen:
            seen.add(shape)
            after.append(rss_after(*shape))
    model.close()
    peak = max(warm, *after)
    return {
        "kernel": kernel,
        "shapes": SHAPES,
        "rss_loaded_mib": loaded,
        "rss_after_warmup_mib": warm,
        "rss_peak_mib": peak,
        "growth_mib": peak - warm,
        "growth_share": (peak - warm) / warm,
        "warmup_growth_mib": warm - loaded,
        "trace_mib": [round(rss - warm, 1) for rss in after[49::50]],  # after every 50 shapes
    }


def measure(folder: str) -> list[dict[str, Any]]:
    """One child process per kernel."""
    from .common import run_module  # the parent only: the measured child imports nothing it need not

    rows = []
    for kernel in KERNELS:
        done = run_module("benchmarks.cpu_memory", [folder, kernel], env=os.environ, timeout=1800)
        failed = {"kernel": kernel, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
        rows.append(json.loads(done.stdout.splitlines()[-1]) if done.returncode == 0 else failed)
    return rows


if __name__ == "__main__":
    print(json.dumps(child(*sys.argv[1:])))
