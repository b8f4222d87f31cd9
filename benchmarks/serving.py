"""Serving: in-process runtime vs ``qwen3-rag serve`` over loopback vs vLLM (CPU), same weights.

``python -m benchmarks.serving`` (a few minutes here) measures, on random-weight Qwen3
checkpoints of a small but vLLM-compatible shape (``--shape small``: 4 layers, hidden 256,
head_dim 64, the real Qwen3 tokenizer) and the benchmark corpus (stdlib docstrings):

1. Throughput and latency with ``--concurrency`` (64) clients, each sending one request at a time:
   embedding requests of one document each, and rerank requests of one query with
   ``--rerank-docs`` (8) documents each. Contenders, one after another (never two at once):

   - in-process: asyncio tasks calling ``Qwen3Embedder.aembed_documents`` /
     ``Qwen3Reranker.ascore`` in this process (the shared micro-batcher);
   - ``qwen3-rag serve`` on 127.0.0.1, HTTP/1.1 keep-alive clients (httpx) in this process sending
     what the remote backend sends: token ids (tokenized here, one ``<|endoftext|>``) to
     ``/v1/embeddings``, and query + documents to ``/v1/rerank``;
   - vLLM (``.venv-vllm``, the flags of ``benchmarks/vllm_server.py``): the same token ids to
     ``/v1/embeddings``, and the reranker template applied here to ``/v1/rerank``.

   Every answer is compared with the in-process result (max abs difference).
2. Memory of a four-worker app: ``qwen3-rag serve`` plus 4 worker processes that use it
   (``Qwen3Embedder.load(path, base_url=...)`` when the remote backend exists, else the tokenizer
   and httpx), against 4 processes that each load the model, and one that does. RSS and PSS
   (proportional set size: shared pages split between the processes that map them).

It writes JSON (``--json``, default ``docs/benchmarks-serving.json``); docs/benchmarks.md renders it.
On a machine with few cores the clients, the server and its tokenizer share the CPU: loopback
numbers here are a lower bound for a server on its own machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .common import SuiteRun, quiet_offline, suite_parser
from .host import describe_host
from .loopback import LoopbackProcess, free_port, wait_for_health
from .procfs import proc_mb
from .vllm_server import ROOT, VllmServer, start_vllm, vllm_python

INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
START_TIMEOUT_S = 300.0


# --------------------------------------------------------------------------- results
@dataclass
class Run:
    """One contender on one workload."""

    workload: str
    contender: str
    requests: int
    items: int
    tokens: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    max_abs_diff: float | None = None
    note: str = ""

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies_ms")
        data.update(
            items_per_s=self.items_per_s,
            tokens_per_s=self.tokens_per_s,
            p50_ms=self.percentile(50),
            p95_ms=self.percentile(95),
            p99_ms=self.percentile(99),
            mean_ms=statistics.fmean(self.latencies_ms),
        )
        return data


async def _drive(
    calls: Sequence[Callable[[], Awaitable[Any]]], concurrency: int
) -> tuple[float, list[float], list[Any]]:
    """Run ``calls`` from ``concurrency`` clients, each one request at a time; wall s, latencies, results."""
    results: list[Any] = [None] * len(calls)
    latencies = [0.0] * len(calls)
    next_index = 0

    async def client() -> None:
        nonlocal next_index
        while next_index < len(calls):
            index = next_index
            next_index += 1
            start = time.perf_counter()
            results[index] = await calls[index]()
            latencies[index] = (time.perf_counter() - start) * 1000.0

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(concurrency, len(calls)))))
    return time.perf_counter() - start, latencies, results


async def _best(
    calls: Sequence[Callable[[], Awaitable[Any]]], concurrency: int, repeat: int
) -> tuple[float, list[float], list[Any]]:
    """The fastest of ``repeat`` runs (on a shared machine noise only ever adds time)."""
    best: tuple[float, list[float], list[Any]] | None = None
    for _ in range(max(1, repeat)):
        run = await _drive(calls, concurrency)
        if best is None or run[0] < best[0]:
            best = run
    assert best is not None
    return best


# --------------------------------------------------------------------------- workloads
@dataclass
class Workload:
    documents: list[str]
    document_ids: list[list[int]]  # the embedding procedure's ids: content + one <|endoftext|>
    rerank_queries: list[str]
    rerank_docs: list[list[str]]
    rerank_tokens: int


def build_workload(args: argparse.Namespace, paths: dict[str, str]) -> Workload:
    from transformers import AutoTokenizer

    from qwen3_rag._prompts import RERANKER_PREFIX, RERANKER_SUFFIX, format_rerank_body

    from .checkpoints import load_fast_tokenizer
    from .corpus import build_corpus

    # Passages up to 512 tokens: nothing is truncated, by us or by vLLM (--max-model-len 4096).
    corpus = build_corpus(
        load_fast_tokenizer(), documents=args.documents, queries=args.rerank_requests, max_tokens=512
    )
    tokenizer = AutoTokenizer.from_pretrained(paths["embedding"])
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    ids = [tokenizer(d, add_special_tokens=False)["input_ids"] + [end] for d in corpus.documents]
    k = args.rerank_docs
    docs = corpus.documents
    rerank_docs = [[docs[(i * k + j) % len(docs)] for j in range(k)] for i in range(args.rerank_requests)]
    queries = [corpus.queries[i % len(corpus.queries)] for i in range(args.rerank_requests)]
    # Tokens the reranker reads: prefix + body + suffix (no truncation at these lengths).
    fixed = sum(
        len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in (RERANKER_PREFIX, RERANKER_SUFFIX)
    )
    bodies = [
        format_rerank_body(q, d, INSTRUCTION) for q, ds in zip(queries, rerank_docs, strict=True) for d in ds
    ]
    tokens = sum(fixed + len(b) for b in tokenizer(bodies, add_special_tokens=False)["input_ids"])
    return Workload(docs, ids, queries, rerank_docs, tokens)


def _vectors(answer: dict[str, Any]) -> np.ndarray:
    data = sorted(answer["data"], key=lambda d: d["index"])
    return np.asarray([d["embedding"] for d in data], dtype=np.float32)


def _scores(answer: dict[str, Any], count: int) -> np.ndarray:
    scores = np.full(count, np.nan)
    for item in answer["results"]:
        scores[item["index"]] = item["relevance_score"]
    return scores


def _diff(got: list[Any], want: list[Any]) -> float:
    return float(max(np.abs(np.asarray(g) - np.asarray(w)).max() for g, w in zip(got, want, strict=True)))


# --------------------------------------------------------------------------- contenders
def run_in_process(work: Workload, paths: dict[str, str], args: argparse.Namespace) -> tuple[list[Run], Any]:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    emb = Qwen3Embedder.load(paths["embedding"], device="cpu", dtype="float32")
    rr = Qwen3Reranker.load(paths["reranker"], device="cpu", dtype="float32")
    emb.embed_documents(work.documents[:8])
    rr.score(work.rerank_queries[0], work.rerank_docs[0])

    embed_calls = [lambda d=d: emb.aembed_documents([d]) for d in work.documents]
    rerank_calls = [
        lambda q=q, ds=ds: rr.ascore(q, ds)
        for q, ds in zip(work.rerank_queries, work.rerank_docs, strict=True)
    ]
    runs = []
    seconds, lat, vectors = asyncio.run(_best(embed_calls, args.concurrency, args.repeat))
    reference: dict[str, list[Any]] = {"embed": [np.asarray(v)[0] for v in vectors]}
    runs.append(_embed_run("in-process", seconds, lat, work))
    seconds, lat, scores = asyncio.run(_best(rerank_calls, args.concurrency, args.repeat))
    reference["rerank"] = [np.asarray(s) for s in scores]
    runs.append(_rerank_run("in-process", seconds, lat, work))
    emb.close()
    rr.close()
    return runs, reference


def _embed_run(name: str, seconds: float, lat: list[float], work: Workload, **kw: Any) -> Run:
    tokens = sum(len(ids) for ids in work.document_ids)
    return Run("embed", name, len(lat), len(lat), tokens, seconds, lat, **kw)


def _rerank_run(name: str, seconds: float, lat: list[float], work: Workload, **kw: Any) -> Run:
    items = sum(len(d) for d in work.rerank_docs)
    return Run("rerank", name, len(lat), items, work.rerank_tokens, seconds, lat, **kw)


async def _http_runs(
    name: str,
    embed_url: str | None,
    rerank_url: str | None,
    embed_body: Callable[[list[int]], dict[str, Any]],
    rerank_body: Callable[[str, list[str]], dict[str, Any]],
    work: Workload,
    reference: dict[str, list[Any]],
    concurrency: int,
    repeat: int,
) -> list[Run]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    runs: list[Run] = []
    async with httpx.AsyncClient(limits=limits, timeout=600.0, trust_env=False) as client:

        async def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await client.post(url, json=body)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
            answer: dict[str, Any] = response.json()
            return answer

        if embed_url is not None:
            url = embed_url
            await asyncio.gather(*(post(url, embed_body(ids)) for ids in work.document_ids[:16]))

            def embed_call(ids: list[int]) -> Callable[[], Awaitable[np.ndarray]]:
                async def call() -> np.ndarray:
                    return _vectors(await post(url, embed_body(ids)))[0]

                return call

            seconds, lat, vectors = await _best(
                [embed_call(ids) for ids in work.document_ids], concurrency, repeat
            )
            runs.append(_embed_run(name, seconds, lat, work, max_abs_diff=_diff(vectors, reference["embed"])))
        if rerank_url is not None:
            url_r = rerank_url
            await post(url_r, rerank_body(work.rerank_queries[0], work.rerank_docs[0]))

            def rerank_call(query: str, docs: list[str]) -> Callable[[], Awaitable[np.ndarray]]:
                async def call() -> np.ndarray:
                    return _scores(await post(url_r, rerank_body(query, docs)), len(docs))

                return call

            calls = [rerank_call(q, d) for q, d in zip(work.rerank_queries, work.rerank_docs, strict=True)]
            seconds, lat, scores = await _best(calls, concurrency, repeat)
            runs.append(
                _rerank_run(name, seconds, lat, work, max_abs_diff=_diff(scores, reference["rerank"]))
            )
    return runs


@dataclass
class ServeProcess(LoopbackProcess):
    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_serve(
    paths: dict[str, str], log_dir: Path, *, reranker: bool = True, extra: Sequence[str] = ()
) -> ServeProcess:
    port = free_port()
    command = [sys.executable, "-m", "qwen3_rag.server", "--port", str(port), "--device", "cpu"]
    command += ["--dtype", "float32", "--no-progress", "--embedding-model", paths["embedding"]]
    if reranker:
        command += ["--reranker-model", paths["reranker"]]
    command += list(extra)
    log = log_dir / f"serve-{port}.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("QWEN3_RAG_API_KEY", None)
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = ServeProcess(process, port, log)
    _wait_health(server.url, process, log)
    return server


def _wait_health(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    health = wait_for_health(url, process, deadline=time.monotonic() + START_TIMEOUT_S, interval_s=0.2)
    if health == "exited":
        raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
    if health == "timeout":
        raise TimeoutError(f"server at {url} not healthy after {START_TIMEOUT_S:.0f} s")


def _proc_memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS of one process from /proc (Linux): ``{"rss_mb", "pss_mb"}``."""
    path = f"/proc/{pid}/smaps_rollup"
    return {"rss_mb": proc_mb("Rss", path, missing=0.0), "pss_mb": proc_mb("Pss", path, missing=0.0)}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child, *_children(child)]
    return found


def _tree_memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS summed over a process and all its descendants (vLLM's engine core is a child)."""
    total = {"rss_mb": 0.0, "pss_mb": 0.0}
    for member in [pid, *_children(pid)]:
        for key, value in _proc_memory_mb(member).items():
            total[key] += value
    return total


def run_serve(
    work: Workload,
    paths: dict[str, str],
    reference: dict[str, list[Any]],
    args: argparse.Namespace,
    logs: Path,
    serve_args: str,
) -> tuple[list[Run], dict[str, float]]:
    server = start_serve(paths, logs, extra=shlex.split(serve_args))
    name = "qwen3-rag serve (loopback)" + (f" {serve_args}" if serve_args else "")
    try:
        runs = asyncio.run(
            _http_runs(
                name,
                f"{server.url}/v1/embeddings",
                f"{server.url}/v1/rerank",
                lambda ids: {"input": [ids], "encoding_format": "float"},
                lambda q, docs: {"query": q, "documents": docs},
                work,
                reference,
                args.concurrency,
                args.repeat,
            )
        )
        memory = _tree_memory_mb(server.process.pid)
    finally:
        server.stop()
    return runs, memory


def run_vllm(
    work: Workload,
    paths: dict[str, str],
    reference: dict[str, list[Any]],
    args: argparse.Namespace,
    logs: Path,
) -> tuple[list[Run], dict[str, Any]]:
    from qwen3_rag._prompts import RERANKER_PREFIX, RERANKER_SUFFIX

    # vLLM joins query and document itself: the template is split where it joins them.

    runs: list[Run] = []
    info: dict[str, Any] = {}
    for kind in ("embedding", "reranker"):
        server: VllmServer = start_vllm(kind, paths[kind], log_dir=logs, served_name=f"bench-{kind}")
        try:
            info[f"{kind}_startup_s"] = server.wait_healthy(START_TIMEOUT_S)
            name = server.served_name

            def embed_body(ids: list[int], name: str = name) -> dict[str, Any]:
                return {"model": name, "input": [ids], "encoding_format": "float"}

            def rerank_body(query: str, docs: list[str], name: str = name) -> dict[str, Any]:
                return {
                    "model": name,
                    "query": f"{RERANKER_PREFIX}<Instruct>: {INSTRUCTION}\n<Query>: {query}\n",
                    "documents": [f"<Document>: {d}{RERANKER_SUFFIX}" for d in docs],
                }

            runs += asyncio.run(
                _http_runs(
                    "vLLM CPU (loopback)",
                    f"{server.base_url}/embeddings" if kind == "embedding" else None,
                    f"{server.base_url}/rerank" if kind == "reranker" else None,
                    embed_body,
                    rerank_body,
                    work,
                    reference,
                    args.concurrency,
                    args.repeat,
                )
            )
            info[f"{kind}_memory"] = _tree_memory_mb(server.process.pid)
        finally:
            server.stop()
    return runs, info


# --------------------------------------------------------------------------- memory
_WORKER = r"""
import json, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
mode, path, url = sys.argv[1], sys.argv[2], sys.argv[3]
texts = ["The quick brown fox.", "Retrieval augmented generation.", "A vector database."] * 4
import inspect
from qwen3_rag import Qwen3Embedder
how = mode
if mode == "local":
    Qwen3Embedder.load(path, device="cpu", dtype="float32").embed_documents(texts)
elif "base_url" in inspect.signature(Qwen3Embedder.load).parameters:
    how = "remote backend"
    Qwen3Embedder.load(path, base_url=url + "/v1").embed_documents(texts)
else:
    how = "tokenizer + httpx"
    import httpx
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(path)
    end = tok.convert_tokens_to_ids("<|endoftext|>")
    ids = [tok(t, add_special_tokens=False)["input_ids"] + [end] for t in texts]
    httpx.post(url + "/v1/embeddings", json={"input": ids}, timeout=60).raise_for_status()
mem = {}
for line in open("/proc/self/smaps_rollup"):
    if line.startswith(("Rss:", "Pss:")):
        mem[line.split(":")[0].lower() + "_mb"] = float(line.split()[1]) / 1024.0
print(json.dumps({**mem, "how": how}), flush=True)
sys.stdin.read()  # stay alive (and counted) until the parent has measured every worker
"""


def _workers(mode: str, count: int, path: str, url: str) -> list[dict[str, Any]]:
    """Start ``count`` workers together, read each one's memory while all are alive, end them."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, mode, path, url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        for _ in range(count)
    ]
    results: list[dict[str, Any]] = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"a {mode} worker exited with {proc.wait(timeout=60)} before reporting")
            results.append(json.loads(line))
        # Measured again with all alive: PSS splits shared pages between the live processes.
        for proc, result in zip(procs, results, strict=True):
            result.update({f"{k}_all_alive": v for k, v in _tree_memory_mb(proc.pid).items()})
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
    return results


def run_memory(paths: dict[str, str], args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    n = args.workers
    rows: dict[str, Any] = {}
    one = _workers("local", 1, paths["embedding"], "")
    rows["1 process loads the model"] = {"rss_mb": one[0]["rss_mb"], "pss_mb": one[0]["pss_mb_all_alive"]}
    each = _workers("local", n, paths["embedding"], "")
    rows[f"{n} processes, each loads the model"] = {
        "rss_mb": sum(w["rss_mb"] for w in each),
        "pss_mb": sum(w["pss_mb_all_alive"] for w in each),
    }
    server = start_serve(paths, logs, reranker=False)
    try:
        workers = _workers("remote", n, paths["embedding"], server.url)
        served = _tree_memory_mb(server.process.pid)
    finally:
        server.stop()
    rows[f"qwen3-rag serve + {n} workers using it"] = {
        "rss_mb": served["rss_mb"] + sum(w["rss_mb"] for w in workers),
        "pss_mb": served["pss_mb"] + sum(w["pss_mb_all_alive"] for w in workers),
        "server_rss_mb": served["rss_mb"],
        "worker_rss_mb": [w["rss_mb"] for w in workers],
        "workers_use": workers[0]["how"],
    }
    base = rows["1 process loads the model"]["rss_mb"]
    for row in rows.values():
        row["x_one_process_rss"] = row["rss_mb"] / base
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = suite_parser("serving", __doc__, shape="small")
    parser.set_defaults(json="docs/benchmarks-serving.json")
    parser.add_argument("--documents", type=int, default=512, help="embedding requests (one document each)")
    parser.add_argument("--rerank-requests", type=int, default=128)
    parser.add_argument("--rerank-docs", type=int, default=8, help="documents per rerank request")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per contender (the best is kept)")
    parser.add_argument("--workers", type=int, default=4, help="worker processes in the memory measurement")
    parser.add_argument(
        "--serve-args",
        action="append",
        help="extra qwen3-rag serve options, e.g. '--max-wait-ms 20'; repeat to compare settings "
        "(each is a contender; '' is the defaults)",
    )
    parser.add_argument("--skip", nargs="+", choices=("serve", "vllm", "memory"), default=[])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    quiet_offline()
    args = parse_args(argv)
    from .checkpoints import suite_checkpoints

    suite = SuiteRun("serving", argv)
    log = suite.log
    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    work = build_workload(args, paths)
    logs = Path(tempfile.mkdtemp(prefix="qwen3-rag-serving-"))
    notes: list[str] = []
    log(f"{len(work.documents)} documents, {len(work.rerank_queries)} rerank requests; in-process ...")
    runs, reference = run_in_process(work, paths, args)
    memory_of: dict[str, Any] = {}
    if "serve" not in args.skip:
        for serve_args in args.serve_args or [""]:
            log(f"qwen3-rag serve {serve_args} ...")
            serve_runs, memory_of["qwen3-rag serve (both models)"] = run_serve(
                work, paths, reference, args, logs, serve_args
            )
            runs += serve_runs
    if "vllm" not in args.skip:
        if vllm_python() is None:
            notes.append("vLLM: not run (no .venv-vllm; bash .ci/setup-vllm)")
        elif shape.head_dim < 32:
            notes.append(f"vLLM: not run (head_dim {shape.head_dim}; its CPU attention needs >= 32)")
        else:
            log("vLLM ...")
            vllm_runs, info = run_vllm(work, paths, reference, args, logs)
            runs += vllm_runs
            memory_of["vLLM embedding server"] = info["embedding_memory"]
            memory_of["vLLM reranker server"] = info["reranker_memory"]
            notes.append(
                f"vLLM start-up: {info['embedding_startup_s']:.0f} s (embedding), "
                f"{info['reranker_startup_s']:.0f} s (reranker)"
            )
    memory = None
    if "memory" not in args.skip:
        log("memory ...")
        memory = run_memory(paths, args, logs)
    for name, mem in memory_of.items():
        notes.append(f"{name}: RSS {mem['rss_mb']:.0f} MB (process tree, after the run)")
    suite.write(
        args.json,
        host=describe_host(),
        shape=asdict(shape),
        settings={
            "concurrency": args.concurrency,
            "documents": len(work.documents),
            "rerank_requests": len(work.rerank_queries),
            "rerank_docs": args.rerank_docs,
            "workers": args.workers,
            "repeat": args.repeat,
            "serve_args": args.serve_args,
            "dtype": "float32",
        },
        runs=[r.summary() for r in runs],
        memory=memory,
        server_memory=memory_of,
        notes=notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
