"""Infinity's Python engine on one job, run *inside* the Infinity environment (``.venv-infinity``).

Not imported by the main environment: ``benchmarks/peers.py`` runs this file as a script with
``.venv-infinity/bin/python benchmarks/infinity_offline.py JOB.json OUT.json`` (standard library
and ``infinity_emb`` only; ``bash .ci/setup-infinity`` builds the environment).

The job names a model folder prepared by ``benchmarks/peers.py`` for Infinity (see there), the
``kind``, ``dtype``, ``batch_size`` and the inputs. The engine is ``AsyncEngineArray`` with one
``EngineArgs(engine="torch", device="cpu", ...)``; after a warm-up, ``repeat`` timed calls of

- ``embed(sentences=texts)`` (kind ``embedding``): the folder carries sentence-transformers'
  module files (Transformer, last-token Pooling, Normalize) as the published Qwen3-Embedding
  does, so Infinity's "auto" pooling is last-token; the tokenizer appends the one
  ``<|endoftext|>``;
- ``classify(sentences=prompts)`` (kind ``reranker``): the folder is a two-label
  sequence-classification conversion of the reranker (labels ``no``/``yes``, the LM head's two
  rows), each prompt the whole official reranker text; Infinity's text-classification pipeline
  takes the softmax over the two labels, which is the official P(yes).

OUT gets the load time, every timed call's seconds and the vectors or scores of the last call.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any


async def run(job: dict[str, Any]) -> dict[str, Any]:
    from infinity_emb import AsyncEngineArray, EngineArgs

    started = time.perf_counter()
    args = EngineArgs(
        model_name_or_path=job["model"],
        engine="torch",
        device="cpu",
        dtype=job["dtype"],
        batch_size=int(job.get("batch_size", 32)),
        model_warmup=False,
        bettertransformer=False,
        lengths_via_tokenize=True,
        trust_remote_code=False,
    )
    array = AsyncEngineArray.from_args([args])
    engine = array[0]
    await engine.astart()
    load_s = time.perf_counter() - started
    try:
        if job["kind"] == "embedding":
            texts: list[str] = job["texts"]

            async def call() -> list[list[float]]:
                vectors, _ = await engine.embed(sentences=texts)
                return [[float(x) for x in v] for v in vectors]

            await engine.embed(sentences=texts[: min(4, len(texts))])
        else:
            prompts: list[str] = job["prompts"]

            async def call() -> list[float]:  # type: ignore[misc]
                classes, _ = await engine.classify(sentences=prompts, raw_scores=True)
                return [next(float(x["score"]) for x in c if x["label"] == "yes") for c in classes]

            await engine.classify(sentences=prompts[: min(2, len(prompts))], raw_scores=True)
        times = []
        result: Any = None
        for _ in range(max(1, int(job.get("repeat", 1)))):
            start = time.perf_counter()
            result = await call()
            times.append(time.perf_counter() - start)
    finally:
        await engine.astop()
    import importlib.metadata as md

    import torch

    return {
        "load_s": load_s,
        "seconds": times,
        "result": result,
        "infinity_emb": md.version("infinity-emb"),
        "torch": md.version("torch"),
        "transformers": md.version("transformers"),
        "sentence_transformers": md.version("sentence-transformers"),
        "torch_threads": int(torch.get_num_threads()),
        "pid": os.getpid(),
    }


def main(job_path: str, out_path: str) -> int:
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    out = asyncio.run(run(job))
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
