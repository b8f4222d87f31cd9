"""qwen3-rag as one peers engine, in a fresh process: ``python -m benchmarks.qwen3_offline JOB OUT``.

Driven like ``benchmarks/vllm_offline.py`` and ``benchmarks/infinity_offline.py``, through the line
protocol of ``benchmarks/peer_protocol.py``, so ``benchmarks/peers.py`` runs every engine the same
way: one process per (model, dtype), loading outside the timings, a warm-up call, then one timed
call per ``run`` of

- ``Qwen3Embedder.embed_documents(texts)`` (kind ``embedding``);
- concurrent ``Qwen3Reranker.ascore(query, documents)`` calls, one per query (kind ``reranker``;
  the micro-batcher coalesces them), the runtime applying the official template itself.

``"threads": N`` in the job sets ``torch.set_num_threads(N)`` before the model loads; ``run N``
sets it before one call (``torch.set_num_threads`` is process-wide, so the micro-batcher's worker
thread runs that call's forward passes on N threads).

A fresh process per job also returns the model's memory when it ends (two 0.6B models in float32
are ~5 GB on a machine shared by several people).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any


def main(job_path: str, out_path: str) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    hf_logging.disable_progress_bar()
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    if job.get("threads"):
        import torch

        torch.set_num_threads(int(job["threads"]))
    started = time.perf_counter()
    if job["kind"] == "embedding":
        emb = Qwen3Embedder.load(job["model"], device="cpu", dtype=job["dtype"])
        texts: list[str] = job["texts"]

        def call() -> Any:
            return [[float(x) for x in v] for v in emb.embed_documents(texts)]

        load_s = time.perf_counter() - started
        emb.embed_documents(texts[: min(4, len(texts))])
    else:
        rr = Qwen3Reranker.load(job["model"], device="cpu", dtype=job["dtype"])
        groups: list[tuple[str, list[str]]] = [(g[0], list(g[1])) for g in job["groups"]]

        def call() -> Any:
            async def all_queries() -> list[list[float]]:
                return list(await asyncio.gather(*(rr.ascore(q, d) for q, d in groups)))

            return [float(s) for scores in asyncio.run(all_queries()) for s in scores]

        load_s = time.perf_counter() - started
        rr.score(groups[0][0], groups[0][1][:2])
    import torch

    from .peer_protocol import serve

    info = {"torch_threads": int(torch.get_num_threads()), "pid": os.getpid()}
    serve(call, load_s, out_path, info, threads=torch.set_num_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
