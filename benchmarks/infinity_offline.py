"""Infinity's Python engine as one peers engine, run *inside* its environment (``.venv-infinity``).

Not imported by the main environment: ``benchmarks/peers.py`` starts this file as a script with
``.venv-infinity/bin/python benchmarks/infinity_offline.py JOB.json OUT.json`` and drives it
through the line protocol of ``benchmarks/peer_protocol.py`` (standard library and
``infinity_emb`` only; ``bash .ci/setup-infinity`` builds the environment).

The job names a model folder prepared by ``benchmarks/peers.py`` for Infinity (see there), the
``kind``, ``dtype``, ``batch_size`` and the inputs. The engine is ``AsyncEngineArray`` with one
``EngineArgs(engine="torch", device="cpu", ...)``, started on an event loop in a background
thread; after a warm-up, each ``run`` times one call of

- ``embed(sentences=texts)`` (kind ``embedding``): the folder carries sentence-transformers'
  module files (Transformer, last-token Pooling, Normalize) as the published Qwen3-Embedding
  does, so Infinity's "auto" pooling is last-token; the tokenizer appends the one
  ``<|endoftext|>``;
- ``classify(sentences=prompts)`` (kind ``reranker``): the folder is a two-label
  sequence-classification conversion of the reranker (labels ``no``/``yes``, the LM head's two
  rows), each prompt the whole official reranker text; Infinity's text-classification pipeline
  takes the softmax over the two labels, which is the official P(yes).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata as md
import json
import os
import sys
import threading
import time
from typing import Any


def main(job_path: str, out_path: str) -> int:
    from infinity_emb import AsyncEngineArray, EngineArgs

    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def wait(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

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
    engine = AsyncEngineArray.from_args([args])[0]
    wait(engine.astart())
    load_s = time.perf_counter() - started
    if job["kind"] == "embedding":
        texts: list[str] = job["texts"]

        def call() -> Any:
            vectors, _ = wait(engine.embed(sentences=texts))
            return [[float(x) for x in v] for v in vectors]

        wait(engine.embed(sentences=texts[: min(4, len(texts))]))
    else:
        prompts: list[str] = job["prompts"]

        def call() -> Any:
            classes, _ = wait(engine.classify(sentences=prompts, raw_scores=True))
            return [next(float(x["score"]) for x in c if x["label"] == "yes") for c in classes]

        wait(engine.classify(sentences=prompts[: min(2, len(prompts))], raw_scores=True))
    import torch

    info = {
        "infinity_emb": md.version("infinity-emb"),
        "torch_threads": int(torch.get_num_threads()),
        "pid": os.getpid(),
    }
    try:
        importlib.import_module("peer_protocol").serve(
            call, load_s, out_path, info
        )  # its folder: sys.path[0]
    finally:
        wait(engine.astop())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
