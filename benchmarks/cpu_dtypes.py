"""CPU dtypes and int8 (issues 13, 25): each CPU kernel's speed and its accuracy against float32.

float32, float32 on oneDNN, bfloat16, dynamic int8 and ``dtype="auto"`` (which measures on its
first load, here in a fresh cache folder) through the runtime, for embedding and reranking, in one
process and interleaved rounds (the ratios hold on a busy machine). Also RSS over 200 batch shapes
per kernel (``memory``, :mod:`benchmarks.cpu_memory`).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._environment import QWEN3_RAG_CACHE_DIR, QWEN3_RAG_CPU_DTYPE, QWEN3_RAG_PACKED_LINEAR

from . import common
from .checkpoints import SHAPES, suite_checkpoints, write_checkpoints
from .corpus import Corpus
from .cpu_memory import measure as measure_memory
from .host import describe_host

VARIANTS = ("float32", "float32-onednn", "bfloat16", "int8", "auto")
PARTS = ("embedding", "reranking", "memory")
Row = dict[str, Any]


def weight_mib(model: Any) -> float:
    """The weights as held: tied tensors once, dynamic int8 linears' packed weights as int8."""
    held = {id(t) if t.is_mkldnn else t.data_ptr(): t for t in [*model.parameters(), *model.buffers()]}
    int8 = [m for m in model.modules() if hasattr(m, "_packed_params") and callable(getattr(m, "weight", 0))]
    packed = [t for m in int8 for t in (m.weight(), m.bias())]
    return sum(t.numel() * t.element_size() for t in [*held.values(), *packed] if t is not None) / 2**20


def load(cls: Any, folder: str, variant: str) -> Any:
    """The runtime's own load; each variant is its own entry among the runtime's shared models."""
    os.environ[QWEN3_RAG_PACKED_LINEAR.name] = "1" if variant == "float32-onednn" else "0"  # read at load
    dtype = {"int8": "float32", "float32-onednn": "float32"}.get(variant, variant)
    return cls.load(folder, device="cpu", dtype=dtype, quantize="int8" if variant == "int8" else None)


def compare(cls: Any, folder: str, variants: list[str], repeat: int, call: Callable, count: Callable) -> Any:
    """``call(model, warm_up)`` for every variant in interleaved rounds (a busy machine slows them
    alike), the best time kept: the rows (``count(model)``: items and tokens) and the outputs."""
    models = {variant: load(cls, folder, variant) for variant in variants}
    for model in models.values():
        call(model, True)
    best, outputs = dict.fromkeys(models, float("inf")), {}
    for _ in range(max(1, repeat)):
        for variant, model in models.items():
            seconds, outputs[variant] = common.best_time(partial(call, model, False), 1)
            best[variant] = min(best[variant], seconds)
    items, tokens = count(models["float32"])
    rows = [
        dict(variant=v, seconds=best[v], items=items, tokens=tokens, tokens_per_s=tokens / best[v])
        for v in models
    ]
    for row, model in zip(rows, models.values(), strict=True):
        choice = getattr(model.backend, "cpu_choice", None)  # what auto picked (None for the others)
        row.update(speedup=best["float32"] / row["seconds"], weight_mib=weight_mib(model.model))
        row["picked"] = None if choice is None else str(choice.kernel)
    for model in models.values():
        model.close()  # after every row is read: "auto" shares its pick's loaded model
    gc.collect()
    return rows, outputs


def embedding(folder: str, corpus: Corpus, variants: list[str], repeat: int) -> list[Row]:
    docs = corpus.documents
    call = lambda model, warm: model.embed_documents(docs[:4] if warm else docs)  # noqa: E731
    count = lambda model: (len(docs), sum(map(len, model.encode_ids(docs))))  # noqa: E731
    rows, outputs = compare(Qwen3Embedder, folder, variants, repeat, call, count)
    for row in rows:
        cosine = np.sum(np.asarray(outputs[row["variant"]]) * np.asarray(outputs["float32"]), axis=1)
        row["accuracy"] = {"min_cosine": float(cosine.min()), "mean_cosine": float(cosine.mean())}
    return [{"task": "embedding", **row} for row in rows]


def rank_agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> dict[str, float]:
    """Per query, how ``other`` ranks the documents against ``reference`` (higher score first)."""
    pairs = list(zip(reference, other, strict=True))
    ranks = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable")  # noqa: E731
    rho = [float(np.corrcoef(ranks(r), ranks(o))[0, 1]) for r, o in pairs]
    upper = np.triu_indices(len(reference[0]), k=1)
    sign = lambda v: np.sign(v[:, None] - v[None, :])[upper]  # noqa: E731
    tau = [float(np.mean(sign(r) * sign(o))) for r, o in pairs]
    top5 = [len({*np.argsort(-r)[:5]} & {*np.argsort(-o)[:5]}) / min(5, len(r)) for r, o in pairs]
    return {
        "spearman_min": min(rho),
        "spearman_mean": float(np.mean(rho)),
        "kendall_min": min(tau),
        "kendall_mean": float(np.mean(tau)),
        "top1_agreement": float(np.mean([np.argmax(r) == np.argmax(o) for r, o in pairs])),
        "top5_overlap": float(np.mean(top5)),
    }


def reranking(folder: str, corpus: Corpus, args: Any, variants: list[str]) -> list[Row]:
    docs, asked, n = corpus.documents, corpus.queries, args.per_query
    work = [
        (asked[q % len(asked)], [docs[(q * n + i) % len(docs)] for i in range(n)])
        for q in range(args.queries)
    ]

    def call(model: Any, warm: bool) -> Any:  # every query at once (``ascores``), as a server calls it
        async def every_query() -> list[Any]:
            return list(await asyncio.gather(*(model.ascores(q, d) for q, d in work)))

        if warm:
            return model.score(work[0][0], work[0][1][:2])
        return [(r.scores, r.logits) for r in asyncio.run(every_query())]

    def count(model: Any) -> tuple[int, int]:
        return len(work) * n, sum(
            len(ids) for q, d in work for ids in model.encode_ids(model._bodies(q, d, None))
        )

    rows, outputs = compare(Qwen3Reranker, folder, variants, args.repeat, call, count)
    logits = {v: [np.asarray(lg) for _, lg in out] for v, out in outputs.items()}
    p_yes = {v: np.concatenate([s for s, _ in out]) for v, out in outputs.items()}
    for row in rows:
        row["accuracy"] = rank_agreement(logits["float32"], logits[row["variant"]]) | {
            "max_abs_diff_p_yes": float(np.abs(p_yes[row["variant"]] - p_yes["float32"]).max()),
            "logit_spread_fp32": float(np.mean([np.std(r) for r in logits["float32"]])),
        }
    return [{"task": "reranking", **row} for row in rows]


def main(argv: list[str] | None = None) -> int:
    common.quiet_offline()
    parser = common.suite_parser("cpu_dtypes", __doc__, shape="0.6b")
    common.corpus_options(parser, documents=192, max_tokens=384, queries=6, per_query=20)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds (best kept)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--skip", nargs="*", default=[], choices=PARTS, help="parts not to run")
    args = parser.parse_args(argv)
    variants = ["float32"] + [v for v in args.variants if v != "float32"]
    suite = common.SuiteRun("cpu_dtypes", argv)
    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    corpus = common.corpus_from_args(args)
    os.environ.pop(QWEN3_RAG_CPU_DTYPE.name, None)  # dtype="auto" measures, in a fresh cache folder
    report: Row = {"shape": shape.__dict__, "corpus": corpus.stats(), "host": describe_host(), "results": []}
    os.environ[QWEN3_RAG_CACHE_DIR.name] = tempfile.mkdtemp(prefix="qwen3-rag-bench-cpu-kernels-")
    if "embedding" not in args.skip:
        suite.log("embedding ...")
        report["results"] += embedding(paths["embedding"], corpus, variants, args.repeat)
    if "reranking" not in args.skip:
        suite.log("reranking ...")
        report["results"] += reranking(paths["reranker"], corpus, args, variants)
    os.environ.pop(QWEN3_RAG_PACKED_LINEAR.name, None)
    if "memory" not in args.skip:
        suite.log("memory over 200 batch shapes ...")
        small = SHAPES["micro" if args.shape == "micro" else "small"]  # micro: the smoke test
        folder = str(write_checkpoints(small, Path(args.cache_dir))["embedding"])
        report["memory"] = {"shape": small.name, "model": measure_memory(folder)}
    suite.write(args.json, **report)
    suite.log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
