"""Peers (issue 13 §3): qwen3-rag vs vLLM CPU (offline API) vs Infinity, same weights, texts, dtype.

``python -m benchmarks.peers`` (default: the real 0.6B shape, random weights, the real tokenizer,
mixed-length stdlib passages) times embedding and reranking per dtype, each engine in a process of
its own (``peer_engine.py``; vLLM and Infinity in ``.venv-vllm`` / ``.venv-infinity``, from
``bash .ci/setup-vllm`` / ``setup-infinity``), every result compared with qwen3-rag's. The matmul
peak of each dtype (before and after the runs, best kept) makes embedding throughput a share of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoints import Shape, load_fast_tokenizer, suite_checkpoints
from .common import SuiteRun, corpus_from_args, corpus_options, quiet_offline, suite_parser
from .corpus import Corpus
from .host import describe_host
from .peer_engine import EngineProcess, venv_python
from .procfs import proc_mb
from .vllm_server import rerank_halves

Data = dict[str, Any]
TOKENIZER = ("tokenizer", "vocab", "merges", "special_tokens")  # the files of a tokenizer
Log = Callable[[str], None]
DTYPES, TASKS = ("float32", "bfloat16"), ("embedding", "reranking")
ENGINES = ("qwen3-rag", "qwen3-rag-1t", "vllm", "infinity")
NOT_MEASURED = dict.fromkeys(["seconds", "load_s", "max_abs_diff", "max_abs_diff_fp32", "min_cosine_fp32"])
NOT_MEASURED |= dict.fromkeys(["items_per_s", "tokens_per_s", "share_of_peak"])
HOW = {
    ("qwen3-rag", "embedding"): "embed_documents(texts)",
    ("vllm", "embedding"): "LLM.embed(texts)",
    ("infinity", "embedding"): "embed(sentences=texts)",
    ("qwen3-rag", "reranking"): "{} concurrent ascore(query, documents) calls",
    ("vllm", "reranking"): "LLM.score(queries, documents), all pairs in one call",
    ("infinity", "reranking"): "classify(sentences=prompts), two-label no/yes conversion",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = suite_parser("peers", __doc__, shape="0.6b")
    corpus_options(parser, documents=64, max_tokens=256, queries=4, per_query=8)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per engine after its warm-up")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to load, or for one call")
    return parser.parse_args(argv)


def unavailable(engine: str, shape: Shape) -> str:
    """Why ``engine`` cannot run here ("" when it can)."""
    if not engine.startswith("qwen3-rag") and venv_python(engine) is None:
        return f"no .venv-{engine} (build it with `bash .ci/setup-{engine}`)"
    wrong = engine == "vllm" and shape.head_dim < 32
    return (
        f"head_dim {shape.head_dim}: vLLM's CPU attention needs 32, 64, 80, 96, 112 or 128" if wrong else ""
    )


def infinity_folders(paths: dict[str, str]) -> dict[str, str]:
    """Folders Infinity loads the same weights from (docs/benchmarks.md, "Peers", says why each
    piece): the embedding one with sentence-transformers' module files (last-token pooling); the
    reranker as a two-label no/yes classifier; ``rope_theta`` at the top for its transformers 4."""
    folders = {}
    for kind in ("embedding", "reranker"):
        source = Path(paths[kind])
        target, stamp = source.parent / f"infinity-{kind}", (source / "bench-shape.json").read_text() + "3"
        folders[kind] = str(target)
        if (target / "bench-source.json").is_file() and (target / "bench-source.json").read_text() == stamp:
            continue
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(
            source, target, ignore=lambda _, names: [n for n in names if not n.startswith(TOKENIZER)]
        )
        config = json.loads((source / "config.json").read_text(encoding="utf-8"))
        config.setdefault("torch_dtype", config.get("dtype", "bfloat16"))
        if "rope_theta" in (config.get("rope_parameters") or {}):
            config["rope_theta"] = config["rope_parameters"]["rope_theta"]
        files: Data = {"config.json": config}
        if kind == "embedding":
            os.link(source / "model.safetensors", target / "model.safetensors")
            modules = enumerate([("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")])
            module = "sentence_transformers.models."
            files["modules.json"] = [
                {"idx": i, "name": str(i), "path": p, "type": module + t} for i, (p, t) in modules
            ]
            files["sentence_bert_config.json"] = {"max_seq_length": 8192, "do_lower_case": False}
            modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens")
            pooling = {f"pooling_mode_{m}": m == "lasttoken" for m in (*modes, "lasttoken")}
            files["1_Pooling/config.json"] = {"word_embedding_dimension": config["hidden_size"], **pooling}
            files["1_Pooling/config.json"]["include_prompt"] = True
            (target / "2_Normalize").mkdir()
        else:
            _classifier_weights(source, target)
            config |= {"id2label": {"0": "no", "1": "yes"}, "label2id": {"no": 0, "yes": 1}, "num_labels": 2}
            config |= {"architectures": ["Qwen3ForSequenceClassification"], "tie_word_embeddings": False}
        for name, content in [*files.items(), ("bench-source.json", stamp)]:  # the stamp last
            (target / name).parent.mkdir(exist_ok=True)
            (target / name).write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return folders


def _classifier_weights(source: Path, target: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file
    from tokenizers import Tokenizer

    no, yes = (Tokenizer.from_file(str(source / "tokenizer.json")).token_to_id(t) for t in ("no", "yes"))
    tensors = load_file(str(source / "model.safetensors"))
    head = tensors.pop("lm_head.weight", None)
    rows = tensors["model.embed_tokens.weight"] if head is None else head  # tied weights: the embedding
    tensors["score.weight"] = torch.stack([rows[no].float(), rows[yes].float()]).contiguous()
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})


def wait_for_memory(need_mb: float, log: Log) -> bool:
    """Up to two minutes for ``need_mb`` + 2 GiB to be free: the machine is shared."""
    for _ in range(13):
        available = proc_mb("MemAvailable", "/proc/meminfo", missing=math.inf)
        if available >= need_mb + 2048:
            return True
        log(f"waiting for memory: {available:,.0f} MiB available, {need_mb + 2048:,.0f} wanted")
        time.sleep(10)
    return False


@dataclass
class Peers:
    """One run: the engines that can run here, their model folders, and the inputs in each one's form."""

    args: argparse.Namespace
    shape: Shape
    engines: dict[str, Data]  # as the JSON records them: available, or why not
    folders: dict[str, dict[str, str]]  # engine -> kind -> model folder
    inputs: dict[str, Data]  # task -> the job's inputs
    sizes: dict[str, tuple[int, int]]  # task -> (items, tokens)
    logs: Path
    log: Log

    def job(self, engine: str, task: str, dtype: str) -> Data:
        name, one_thread = engine.removesuffix("-1t"), engine.endswith("-1t")
        model = self.folders[name]["embedding" if task == "embedding" else "reranker"]
        weights_mb = (self.shape.body_params() + self.shape.vocab * self.shape.hidden) / 2**20
        need_mb = weights_mb * (6 if dtype == "float32" else 3) + 800 + 1024 * (name == "vllm")  # KV cache
        job = {"engine": name, "kind": task, "dtype": dtype, "model": model, "need_mb": need_mb}
        job["python"] = sys.executable if name == "qwen3-rag" else str(venv_python(name))
        job["run"] = "1" if one_thread else str(torch_threads()) if name == "qwen3-rag" else ""
        return {**job, "threads": int(one_thread), **self.inputs[task]}

    def record(self, engine: str, task: str, dtype: str) -> Data:
        how = HOW[engine.removesuffix("-1t"), task].format(self.args.queries)
        how += ", torch.set_num_threads(1)" if engine.endswith("-1t") else ""
        why = self.engines[engine].get("why", "")
        record = {"engine": engine, "task": task, "dtype": dtype, "error": why}
        items, tokens = self.sizes[task]
        return {**record, "items": items, "tokens": tokens, "how": how, "all_seconds": [], **NOT_MEASURED}

    def run_group(self, task: str, dtype: str) -> tuple[list[Data], Data]:
        """One (task, dtype): start every engine (one after another, nothing timed), then let them
        take turns, one timed call each per round, the order rotating; the best call is kept.
        qwen3-rag on one thread shares qwen3-rag's process (``run 1`` sets that call's thread
        count): one model in memory, not two. Returns the runs and each process's results."""
        runs = [self.record(engine, task, dtype) for engine in self.engines]
        jobs = {run["engine"]: self.job(run["engine"], task, dtype) for run in runs if not run["error"]}
        timeout, processes, results = self.args.timeout, dict[str, EngineProcess](), {}
        try:
            for run in runs:
                engine, job = run["engine"], jobs.get(run["engine"], {})
                if engine == "qwen3-rag-1t" and "qwen3-rag" in processes:
                    processes[engine], run["load_s"] = processes["qwen3-rag"], runs[0]["load_s"]
                elif job and not wait_for_memory(job["need_mb"], self.log):
                    run["error"] = f"not started: less than {job['need_mb']:,.0f} MiB free for 2 minutes"
                elif job:
                    self.log(f"{engine} {task} {dtype}: loading ...")
                    processes[engine] = EngineProcess(job["python"], job, self.logs)
                    try:
                        run["load_s"] = float(processes[engine].ask("ready", timeout))
                    except (TimeoutError, RuntimeError) as exc:
                        run["error"] = str(exc)
                        processes[engine].stop()
            for round_ in range(max(1, self.args.repeat)):
                turn = [r for r in runs if r["engine"] in processes and not r["error"]]
                for run in turn[round_ % len(turn) :] + turn[: round_ % len(turn)] if turn else []:
                    try:  # OSError: the process died (a broken pipe)
                        line = f"run {jobs[run['engine']]['run']}"
                        run["all_seconds"].append(float(processes[run["engine"]].ask("done", timeout, line)))
                    except (TimeoutError, RuntimeError, OSError) as exc:
                        run["error"] = str(exc)
                done = ", ".join(f"{r['engine']} {r['all_seconds'][-1]:.2f}s" for r in turn)
                self.log(f"{task} {dtype} round {round_ + 1}: {done}")
            for run in runs:
                process = processes.get(run["engine"])
                shared = process is processes.get("qwen3-rag") and run is not runs[0]  # the 1-thread run
                if not process or run["error"] or shared:
                    continue
                try:
                    process.ask("written", timeout, "quit")
                    results[run["engine"]] = json.loads(process.out.read_text(encoding="utf-8"))
                    results[run["engine"]]["log"] = process.log.read_text(errors="replace")
                except (TimeoutError, RuntimeError, OSError, ValueError) as exc:
                    run["error"] = str(exc)
        finally:
            for process in processes.values():
                process.stop()
        for run in runs:
            run["seconds"] = None if run["error"] or not run["all_seconds"] else min(run["all_seconds"])
        return runs, results


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def compare(runs: list[Data], outputs: dict[tuple[str, str, str], np.ndarray]) -> None:
    """The accuracy columns: each run against qwen3-rag at its dtype, and against qwen3-rag float32."""
    for run in runs:
        mine = outputs.get((run["engine"], run["task"], run["dtype"]))
        same = outputs.get(("qwen3-rag", run["task"], run["dtype"]))
        fp32 = outputs.get(("qwen3-rag", run["task"], "float32"))
        if mine is None:
            continue
        if same is not None and run["engine"] != "qwen3-rag":
            run["max_abs_diff"] = float(np.abs(mine - same).max())
        if fp32 is not None and (run["engine"] != "qwen3-rag" or run["dtype"] != "float32"):
            run["max_abs_diff_fp32"] = float(np.abs(mine - fp32).max())
            if run["task"] == "embedding":
                run["min_cosine_fp32"] = float(np.min(np.sum(mine * fp32, axis=1)))


def workload(args: argparse.Namespace) -> tuple[Corpus, Data, dict[str, tuple[int, int]]]:
    """The corpus, every engine's form of the inputs per task, and (items, tokens) per task."""
    corpus = corpus_from_args(args)
    docs, k = corpus.documents, args.per_query
    groups = [
        (corpus.queries[q], [docs[(q * k + i) % len(docs)] for i in range(k)]) for q in range(args.queries)
    ]
    halves = [rerank_halves(query, d) for query, documents in groups for d in documents]  # vLLM joins them
    prompts = [a + b for a, b in halves]  # Infinity gets them whole
    reranking = {"groups": groups, "prompts": prompts, "queries": [a for a, _ in halves]}
    inputs = {"embedding": {"texts": docs}, "reranking": {**reranking, "documents": [b for _, b in halves]}}
    prompt_ids = load_fast_tokenizer().encode_batch(prompts, add_special_tokens=False)
    sizes = {"embedding": (len(docs), sum(corpus.document_tokens) + len(docs))}  # each + its end token
    return corpus, inputs, {**sizes, "reranking": (len(prompts), sum(len(e.ids) for e in prompt_ids))}


def main(argv: list[str] | None = None) -> int:
    quiet_offline()
    import torch

    from .hardware import corpus_flops, matmul_rates

    args = parse_args(argv)
    suite = SuiteRun("peers", argv)
    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    corpus, inputs, sizes = workload(args)
    engines: dict[str, Data] = {e: {"available": True} for e in ENGINES if e in args.engines}
    for engine in engines:
        if why := unavailable(engine, shape):
            engines[engine] = {"available": False, "why": why}
    folders = {"qwen3-rag": paths, "vllm": paths}
    if engines.get("infinity", {}).get("available"):
        folders["infinity"] = infinity_folders(paths)
    logs = Path(tempfile.mkdtemp(prefix="qwen3-rag-peers-"))
    peers = Peers(args, shape, engines, folders, inputs, sizes, logs, suite.log)
    dims = (shape.hidden, shape.ffn)
    rates = {d: matmul_rates(*dims, dtype=getattr(torch, d)) for d in args.dtypes}
    runs: list[Data] = []
    outputs: dict[tuple[str, str, str], np.ndarray] = {}
    for dtype, task in ((d, t) for d in args.dtypes for t in TASKS):
        group, results = peers.run_group(task, dtype)
        runs += group
        for engine, result in results.items():
            engines[engine] |= {"versions": result["versions"], "threads": result["torch_threads"]}
            if engine == "vllm":  # the cores its worker was bound to (it keeps some for its scheduler)
                binding = re.findall(r"(core ids|reserved_cpus)=(\[[^\]]*\])", result["log"])
                engines[engine]["omp_binding"] = dict(binding)
            float_type = np.float32 if task == "embedding" else np.float64
            outputs[engine, task, dtype] = np.asarray(result["result"], dtype=float_type)
    compare(runs, outputs)
    for d in args.dtypes:
        again = matmul_rates(*dims, dtype=getattr(torch, d))
        rates[d] = {form: max(rates[d][form], again[form]) for form in again}
    peaks = {d: max(r.values()) for d, r in rates.items()}
    flops = corpus_flops(shape, corpus.document_tokens)
    for r in (r for r in runs if r["seconds"]):
        r |= {"items_per_s": r["items"] / r["seconds"], "tokens_per_s": r["tokens"] / r["seconds"]}
        r["share_of_peak"] = flops / r["seconds"] / peaks[r["dtype"]] if r["task"] == "embedding" else None
    settings = {"documents": len(corpus.documents), "queries": args.queries, "per_query": args.per_query}
    settings |= {"repeat": args.repeat, "dtypes": args.dtypes, "threads": torch.get_num_threads()}
    suite.write(
        args.json,
        host=describe_host(),
        shape=asdict(shape),
        corpus=corpus.stats(),
        settings=settings,
        engines=engines,
        matmul_rates=rates,
        matmul_shape=[4096, *dims],
        peaks=peaks,
        corpus_flops=flops,
        runs=runs,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
