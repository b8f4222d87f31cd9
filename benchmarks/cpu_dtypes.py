"""CPU dtypes and int8 (issue 13): float32 vs bfloat16 vs dynamic int8, through the runtime.

``python -m benchmarks.cpu_dtypes`` (default: the real 0.6B shape, random weights, the real Qwen3
tokenizer, mixed-length standard-library text). Every variant runs in the same process, in
interleaved rounds (best of ``--repeat``), so the ratios are comparable on a busy machine even
where the absolute numbers are not.

- Embedding: ``Qwen3Embedder.embed_documents`` over the corpus; accuracy = cosine of each vector
  to the float32 one (min and mean).
- Reranking: ``Qwen3Reranker.score`` for ``--queries`` queries x ``--per-query`` documents;
  accuracy = per-query rank agreement of the log-odds with float32 (Spearman, Kendall tau),
  top-1 agreement and top-5 overlap, max |P(yes) difference|.
- int8: the runtime's ``quantize="int8"`` (``torch.ao.quantization.quantize_dynamic`` on the
  decoder's ``nn.Linear`` layers of a float32 model: weights int8 per tensor, activations
  quantized per batch); the token embedding and the LM head stay float32.
- Overlap: how much of one embedding call is tokenization and padding vs forward passes.
- ``--profile``: the torch profiler's top operators of the embedding forward pass per dtype
  (run in this thread: the profiler does not see the batcher's worker thread).
- ``auto`` (issue 25): ``dtype="auto"``, which times the kernels on the model's layer shapes on
  its first load (a fresh cache folder here) and loads the one it picks: the same loaded model as
  that kernel's own row (the runtime shares one per kernel), timed as its own row in the same
  rounds. ``probe``: the decision's cost on a first load and on later ones, repeated.
- ``memory``: RSS over 200 batch shapes per kernel (:mod:`benchmarks.cpu_memory`).

Writes JSON (``--json``); docs/benchmarks.md renders it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoints import SHAPES, Shape, load_fast_tokenizer, suite_checkpoints, write_checkpoints
from .common import (
    SuiteRun,
    best_time,
    corpus_from_args,
    corpus_options,
    load_average,
    quiet_offline,
    suite_parser,
)
from .corpus import Corpus, build_corpus

VARIANTS = ("float32", "float32-onednn", "bfloat16", "int8", "auto")
PACKED = "float32-onednn"  # the opt-in QWEN3_RAG_PACKED_LINEAR=1: float32 linear layers on oneDNN


# ----------------------------------------------------------------------------- variants
def weight_bytes(model: Any) -> int:
    """Bytes of the weights as held (tied tensors once; packed int8 linears counted as int8)."""
    seen: set[int] = set()
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        key = id(tensor) if tensor.is_mkldnn else tensor.data_ptr()  # oneDNN tensors have no data_ptr
        if key in seen:
            continue
        seen.add(key)
        total += tensor.numel() * tensor.element_size()
    for module in model.modules():
        packed = getattr(module, "_packed_params", None)
        if packed is not None and hasattr(module, "weight") and callable(module.weight):
            weight = module.weight()
            total += weight.numel() * weight.element_size()
            bias = module.bias()
            if bias is not None:
                total += bias.numel() * bias.element_size()
    return total


def load_variant(cls: Any, folder: str, variant: str) -> Any:
    """The runtime's own load: ``quantize="int8"`` is a separate cache entry beside float32."""
    if variant == "int8":
        return cls.load(folder, device="cpu", dtype="float32", quantize="int8")
    if variant == "auto":
        return cls.load(folder, device="cpu", dtype="auto")
    if variant == PACKED:
        # QWEN3_RAG_PACKED_LINEAR=1 applies at load; another folder is another cache entry.
        os.environ["QWEN3_RAG_PACKED_LINEAR"] = "1"
        try:
            return cls.load(_linked_copy(folder, "onednn"), device="cpu", dtype="float32")
        finally:
            del os.environ["QWEN3_RAG_PACKED_LINEAR"]
    return cls.load(folder, device="cpu", dtype=variant)


def _linked_copy(folder: str, suffix: str) -> str:
    """``folder``'s files hard-linked (or copied) into a sibling folder: the same weights."""
    source = Path(folder)
    target = source.parent / f"{source.name}-{suffix}"
    target.mkdir(exist_ok=True)
    for path in source.iterdir():
        link = target / path.name
        if path.is_file() and not link.exists():
            try:
                os.link(path, link)
            except OSError:
                shutil.copyfile(path, link)
    return str(target)


# ----------------------------------------------------------------------------- accuracy
def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else 1.0


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), k=1)
    pairs = len(upper[0])
    return float((da[upper] * db[upper]).sum() / pairs) if pairs else 1.0


def rank_agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> dict[str, float]:
    """Per-query agreement of ``other``'s ranking with ``reference``'s (higher score = better)."""
    rho = [spearman(r, o) for r, o in zip(reference, other, strict=True)]
    tau = [kendall_tau(r, o) for r, o in zip(reference, other, strict=True)]
    top1 = [float(np.argmax(r) == np.argmax(o)) for r, o in zip(reference, other, strict=True)]
    top5 = [
        len(set(np.argsort(-r)[:5]) & set(np.argsort(-o)[:5])) / min(5, len(r))
        for r, o in zip(reference, other, strict=True)
    ]
    return {
        "spearman_min": min(rho),
        "spearman_mean": float(np.mean(rho)),
        "kendall_min": min(tau),
        "kendall_mean": float(np.mean(tau)),
        "top1_agreement": float(np.mean(top1)),
        "top5_overlap": float(np.mean(top5)),
    }


# ----------------------------------------------------------------------------- measurements
@dataclass
class Result:
    task: str
    variant: str
    seconds: float
    items: int
    tokens: int
    weight_mib: float
    accuracy: dict[str, float] = field(default_factory=dict)
    speedup: float | None = None  # float32 seconds / these seconds
    picked: str | None = None  # the auto row: the kernel dtype="auto" loaded

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def _rounds(fns: dict[str, Callable[[], Any]], repeat: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Interleaved rounds: every variant once per round, best time per variant kept."""
    best = {name: float("inf") for name in fns}
    outputs: dict[str, Any] = {}
    for _ in range(max(1, repeat)):
        for name, fn in fns.items():
            seconds, outputs[name] = best_time(fn, 1)
            best[name] = min(best[name], seconds)
    return best, outputs


def measure_embedding(folder: str, corpus: Corpus, variants: Sequence[str], repeat: int) -> list[Result]:
    from qwen3_rag import Qwen3Embedder

    docs = corpus.documents
    tokens = sum(corpus.document_tokens) + len(docs)
    models = {variant: load_variant(Qwen3Embedder, folder, variant) for variant in variants}
    for model in models.values():
        model.embed_documents(docs[:4])
    best, outputs = _rounds({v: partial(m.embed_documents, docs) for v, m in models.items()}, repeat)
    results = []
    reference = np.asarray(outputs["float32"])
    for variant, model in models.items():
        vectors = np.asarray(outputs[variant])
        cosine = np.sum(vectors * reference, axis=1)
        results.append(
            Result(
                "embedding",
                variant,
                best[variant],
                len(docs),
                tokens,
                weight_bytes(model.model) / 2**20,
                {"min_cosine": float(cosine.min()), "mean_cosine": float(cosine.mean())},
                best["float32"] / best[variant],
                _picked(model),
            )
        )
    for model in models.values():
        model.close()  # after the loop: "auto" shares its pick's loaded model
    del models
    gc.collect()
    return results


def _picked(model: Any) -> str | None:
    """What ``dtype="auto"`` picked, for the auto row (``None`` for the explicit variants)."""
    choice = getattr(model.backend, "cpu_choice", None)
    return None if choice is None else str(choice.kernel)


def rerank_workload(corpus: Corpus, queries: int, per_query: int) -> list[tuple[str, list[str]]]:
    docs = corpus.documents
    return [
        (
            corpus.queries[q % len(corpus.queries)],
            [docs[(q * per_query + i) % len(docs)] for i in range(per_query)],
        )
        for q in range(queries)
    ]


def _rerank_all(model: Any, work: list[tuple[str, list[str]]]) -> list[tuple[list[float], list[float]]]:
    """Every query concurrently (``ascores``), as a serving app calls it."""

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(model.ascores(q, d) for q, d in work)))

    return [(r.scores, r.logits) for r in asyncio.run(main())]


def measure_reranking(
    folder: str, work: list[tuple[str, list[str]]], variants: Sequence[str], repeat: int
) -> list[Result]:
    from qwen3_rag import Qwen3Reranker

    models = {variant: load_variant(Qwen3Reranker, folder, variant) for variant in variants}
    first = next(iter(models.values()))
    pairs = sum(len(d) for _, d in work)
    tokens = sum(len(ids) for q, d in work for ids in first.encode_ids(first._bodies(q, d, None)))
    for model in models.values():
        model.score(work[0][0], work[0][1][:2])
    best, outputs = _rounds({v: partial(_rerank_all, m, work) for v, m in models.items()}, repeat)
    ref_logits = [np.asarray(logits) for _, logits in outputs["float32"]]
    ref_scores = np.concatenate([np.asarray(s) for s, _ in outputs["float32"]])
    results = []
    for variant, model in models.items():
        logits = [np.asarray(lg) for _, lg in outputs[variant]]
        scores = np.concatenate([np.asarray(s) for s, _ in outputs[variant]])
        accuracy = rank_agreement(ref_logits, logits)
        accuracy["max_abs_diff_p_yes"] = float(np.abs(scores - ref_scores).max())
        accuracy["logit_spread_fp32"] = float(np.mean([np.std(r) for r in ref_logits]))
        results.append(
            Result(
                "reranking",
                variant,
                best[variant],
                pairs,
                tokens,
                weight_bytes(model.model) / 2**20,
                accuracy,
                best["float32"] / best[variant],
                _picked(model),
            )
        )
    for model in models.values():
        model.close()
    del models
    gc.collect()
    return results


def measure_overlap(folder: str, corpus: Corpus, dtype: str, repeat: int) -> dict[str, float]:
    """One ``embed_documents`` call split into tokenize, pad and forward (worker-thread work)."""
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag._runtime.planning import plan_batches
    from qwen3_rag._runtime.tensors import left_pad

    model = Qwen3Embedder.load(folder, device="cpu", dtype=dtype)
    docs = corpus.documents
    runtime = model.runtime
    pad_id = model.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    items = model.procedure.format_documents(docs)
    tokenize_s, ids = best_time(lambda: model.procedure.tokenize(items), max(3, repeat))
    batches = plan_batches([len(i) for i in ids], token_budget=runtime.batcher.token_budget)
    groups = [[ids[i] for i in batch] for batch in batches]
    pad_s, _ = best_time(lambda: [left_pad(g, pad_id, runtime.device) for g in groups], max(3, repeat))
    model.embed_documents(docs[:4])
    total_s, _ = best_time(lambda: model.embed_documents(docs), repeat)
    model.close()
    forward_s = max(total_s - tokenize_s - pad_s, 1e-9)
    return {
        "batches": float(len(groups)),
        "tokenize_s": tokenize_s,
        "pad_s": pad_s,
        "call_s": total_s,
        "forward_s": forward_s,
        "tokenize_pad_share": (tokenize_s + pad_s) / total_s,
    }


def profile_forward(folder: str, corpus: Corpus, dtype: str, top: int = 6) -> list[dict[str, Any]]:
    """The torch profiler's top operators (self CPU time) of the embedding forward passes."""
    from torch.profiler import ProfilerActivity, profile

    from qwen3_rag import Qwen3Embedder
    from qwen3_rag._runtime.local import make_embedding_forward
    from qwen3_rag._runtime.planning import plan_batches

    model = Qwen3Embedder.load(folder, device="cpu", dtype=dtype)
    ids = model.encode_ids(corpus.documents)
    batches = plan_batches([len(i) for i in ids], token_budget=model.runtime.batcher.token_budget)
    forward = make_embedding_forward(model.model, model.tokenizer, torch.device("cpu"))
    groups = [[ids[i] for i in batch] for batch in batches]
    for group in groups:
        forward(group)  # warm-up: oneDNN creates its kernels per shape on first use
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for group in groups:
            forward(group)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    model.close()
    return [
        {
            "op": e.key,
            "self_ms": e.self_cpu_time_total / 1000.0,
            "share": e.self_cpu_time_total / total,
            "calls": e.count,
        }
        for e in events[:top]
    ]


def matmul_ratio(shape: Shape, rows: int = 4096, repeat: int = 5) -> dict[str, float]:
    """Best seconds of the model's biggest matmul (rows x hidden @ hidden x ffn) per dtype."""
    out: dict[str, float] = {}
    for dtype in (torch.float32, torch.bfloat16):
        linear = torch.nn.Linear(shape.hidden, shape.ffn, bias=False, dtype=dtype)
        x = torch.randn(rows, shape.hidden, dtype=dtype)
        with torch.inference_mode():
            linear(x)
            out[str(dtype).replace("torch.", "")], _ = best_time(partial(linear, x), repeat)
    return out


def auto_dtype(cache: Path) -> str:
    """What ``dtype="auto"`` resolves to on this machine's CPU (a micro checkpoint is loaded)."""
    from qwen3_rag import Qwen3Embedder

    folder = write_checkpoints(SHAPES["micro"], cache)["embedding"]
    model = Qwen3Embedder.load(str(folder), device="cpu", dtype="auto")
    dtype = str(next(model.model.parameters()).dtype).replace("torch.", "")
    model.close()
    return dtype


def probe_costs(folder: str, repeat: int) -> dict[str, Any]:
    """``dtype="auto"``'s decision on this shape: what the first load pays (a fresh cache each
    time, ``repeat`` times: the spread and whether the pick is stable) and what a later one pays
    (the cache file read back, as a new process does)."""
    from qwen3_rag._runtime import cpu_choice
    from qwen3_rag._runtime.cpu_probe import LayerShape

    shape = LayerShape.from_folder(Path(folder))
    first: list[dict[str, Any]] = []
    later_s: list[float] = []
    for _ in range(max(1, repeat)):
        with tempfile.TemporaryDirectory() as cache:
            os.environ[cpu_choice.ENV_CACHE_DIR] = cache
            cpu_choice.forget()
            started = time.perf_counter()
            choice = cpu_choice.choose(shape)
            wall = time.perf_counter() - started
            first.append(
                {
                    "kernel": choice.kernel,
                    "probe_s": choice.probe_s,
                    "wall_s": wall,
                    "seconds": choice.seconds,
                    "load_average": load_average(),
                    "explain": choice.explain(),
                }
            )
            cpu_choice.forget()  # a new process: only the file remains
            started = time.perf_counter()
            again = cpu_choice.choose(shape)
            later_s.append(time.perf_counter() - started)
            assert again.how == "cached" and again.probe_s == 0.0 and again.kernel == choice.kernel
    return {"shape": shape.label, "rows": shape.probe_rows(), "first": first, "later_s": later_s}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = suite_parser("cpu_dtypes", __doc__, shape="0.6b")
    corpus_options(parser, documents=192, max_tokens=384, queries=6, per_query=20)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds (best kept)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--profile", nargs="*", choices=sorted(SHAPES), help="profile these shapes")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=("embedding", "reranking", "overlap", "probe", "memory")
    )
    parser.add_argument("--memory-shapes", type=int, default=200, help="batch shapes of the memory check")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    quiet_offline()
    args = parse_args(argv)
    variants = ["float32"] + [v for v in args.variants if v != "float32"]
    suite = SuiteRun("cpu_dtypes", argv)
    log = suite.log

    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    tokenizer = load_fast_tokenizer()
    corpus = corpus_from_args(args)
    from .cpu_memory import measure as measure_memory
    from .host import describe_host

    # dtype="auto" measures on its first load: a fresh cache folder, never the user's, no force.
    os.environ.pop("QWEN3_RAG_CPU_DTYPE", None)
    auto_cache = tempfile.mkdtemp(prefix="qwen3-rag-bench-cpu-kernels-")
    report: dict[str, Any] = {
        "shape": shape.__dict__,
        "corpus": corpus.stats(),
        "host": describe_host(),
        "matmul_seconds": matmul_ratio(shape),
    }
    if "probe" not in args.skip:
        log("probe ...")
        report["probe"] = probe_costs(paths["embedding"], max(3, args.repeat))
    os.environ["QWEN3_RAG_CACHE_DIR"] = auto_cache
    results: list[Result] = []
    if "embedding" not in args.skip:
        log("embedding ...")
        results += measure_embedding(paths["embedding"], corpus, variants, args.repeat)
    if "reranking" not in args.skip:
        log("reranking ...")
        work = rerank_workload(corpus, args.queries, args.per_query)
        results += measure_reranking(paths["reranker"], work, variants, args.repeat)
    if "overlap" not in args.skip:
        log("overlap ...")
        report["overlap"] = {
            dtype: measure_overlap(paths["embedding"], corpus, dtype, args.repeat)
            for dtype in ("float32", "bfloat16")
        }
    if "memory" not in args.skip:
        log("memory over 200 batch shapes ...")
        small = SHAPES["micro" if args.shape == "micro" else "small"]  # micro: the smoke test
        small_paths = write_checkpoints(small, Path(args.cache_dir))
        report["memory"] = measure_memory(
            str(small_paths["embedding"]),
            hidden=small.hidden,
            ffn=small.ffn,
            shapes=args.memory_shapes,
            name=small.name,
        )
    if args.profile:
        report["profile"] = {}
        for name in args.profile:
            log(f"profile {name} ...")
            prof_paths = write_checkpoints(SHAPES[name], Path(args.cache_dir))
            few = 64 if SHAPES[name].hidden < 1024 else 16
            prof_corpus = build_corpus(tokenizer, documents=few, queries=8)
            report["profile"][name] = {
                dtype: profile_forward(str(prof_paths["embedding"]), prof_corpus, dtype)
                for dtype in ("float32", "bfloat16")
            }
    report["auto_dtype"] = auto_dtype(Path(args.cache_dir))
    report["results"] = [{**r.__dict__, "tokens_per_s": r.tokens_per_s} for r in results]
    suite.write(args.json, **report)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
