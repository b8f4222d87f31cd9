"""Serving: in-process runtime vs ``qwen3-rag serve`` over loopback vs vLLM (CPU), same weights.

``python -m benchmarks.serving``: throughput and latency of ``--concurrency`` clients, each sending
one request at a time (one document to embed, or one query with ``--rerank-docs`` documents), to
the in-process runtime, to ``qwen3-rag serve`` on 127.0.0.1 and to vLLM (what the remote backend
sends; every answer compared with the in-process one); then the memory of ``qwen3-rag serve`` and
``--workers`` processes using it against that many processes each loading the model; every
contender in ``--dtype``. How, and what it found: docs/benchmarks.md, "Serving".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import select
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoints import load_fast_tokenizer, suite_checkpoints
from .common import ROOT, SuiteRun, quiet_offline, suite_parser
from .corpus import build_corpus
from .host import describe_host
from .loopback import LoopbackProcess, child_env, free_port, launch
from .procfs import proc_mb
from .vllm_server import rerank_halves, start_vllm, vllm_python

START_TIMEOUT_S = 300.0
Data = dict[str, Any]
Call = Callable[[int], Awaitable[Any]]  # request number -> its answer (a vector, or scores)


@dataclass
class Workload:
    documents: list[str]
    ids: list[list[int]]  # the embedding procedure's ids: content + one <|endoftext|>
    queries: list[str]
    rerank_docs: list[list[str]]
    tokens: dict[str, int]  # read by the models, per workload
    concurrency: int
    repeat: int
    reference: Data = field(default_factory=dict)  # the in-process answers, per workload


def build_workload(args: argparse.Namespace) -> Workload:
    tokenizer = load_fast_tokenizer()
    # Passages up to 512 tokens: nothing is truncated, by us or by vLLM (--max-model-len 4096).
    corpus = build_corpus(tokenizer, documents=args.documents, queries=args.rerank_requests, max_tokens=512)
    docs, k, end = corpus.documents, args.rerank_docs, tokenizer.token_to_id("<|endoftext|>")
    ids = [e.ids + [end] for e in tokenizer.encode_batch(docs, add_special_tokens=False)]
    rerank_docs = [[docs[(i * k + j) % len(docs)] for j in range(k)] for i in range(args.rerank_requests)]
    queries = [corpus.queries[i % len(corpus.queries)] for i in range(args.rerank_requests)]
    prompts = ["".join(rerank_halves(q, d)) for q, ds in zip(queries, rerank_docs, strict=True) for d in ds]
    prompt_ids = tokenizer.encode_batch(prompts, add_special_tokens=False)
    tokens = {"embed": sum(map(len, ids)), "rerank": sum(len(e.ids) for e in prompt_ids)}
    return Workload(docs, ids, queries, rerank_docs, tokens, args.concurrency, args.repeat)


async def timed(call: Call, count: int, concurrency: int) -> tuple[float, list[float], list[Any]]:
    """``call(0..count-1)`` from ``concurrency`` clients, each one request at a time: the wall
    seconds, each request's milliseconds, the answers."""
    results: list[Any] = [None] * count
    latencies = [0.0] * count
    pending = iter(range(count))  # shared: each client takes the next request

    async def client() -> None:
        for i in pending:
            start = time.perf_counter()
            results[i] = await call(i)
            latencies[i] = (time.perf_counter() - start) * 1000.0

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(concurrency, count))))
    return time.perf_counter() - start, latencies, results


async def measure(name: str, work: Workload, calls: dict[str, Call]) -> list[Data]:
    """Each workload after a warm-up, best of ``--repeat`` (noise on a shared machine only adds
    time), compared with the in-process answers (the first contender's)."""
    runs = []
    for workload, call in calls.items():
        count = len(work.ids) if workload == "embed" else len(work.queries)
        await asyncio.gather(*(call(i) for i in range(min(count, 8))))
        tries = [await timed(call, count, work.concurrency) for _ in range(max(1, work.repeat))]
        seconds, latencies, results = min(tries, key=lambda t: t[0])
        want = work.reference.setdefault(workload, results)
        diff = None if want is results else float(np.abs(np.asarray(results) - np.asarray(want)).max())
        items, tokens = (
            (count if workload == "embed" else count * len(work.rerank_docs[0])),
            work.tokens[workload],
        )
        ordered = sorted(latencies)
        run = {"workload": workload, "contender": name, "requests": count, "items": items, "seconds": seconds}
        run |= {
            "tokens": tokens,
            "max_abs_diff": diff,
            "items_per_s": items / seconds,
            "tokens_per_s": tokens / seconds,
        }
        run |= {f"p{q}_ms": ordered[min(count - 1, max(0, round(q / 100 * count) - 1))] for q in (50, 95, 99)}
        runs.append({**run, "mean_ms": statistics.fmean(latencies)})
    return runs


def in_process(work: Workload, paths: dict[str, str], dtype: str) -> list[Data]:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    embedder = Qwen3Embedder.load(paths["embedding"], device="cpu", dtype=dtype)
    reranker = Qwen3Reranker.load(paths["reranker"], device="cpu", dtype=dtype)

    async def embed(i: int) -> Any:
        return (await embedder.aembed_documents([work.documents[i]]))[0]

    async def rerank(i: int) -> Any:
        return await reranker.ascore(work.queries[i], work.rerank_docs[i])

    try:
        return asyncio.run(measure("in-process", work, {"embed": embed, "rerank": rerank}))
    finally:
        embedder.close()
        reranker.close()


async def over_http(
    name: str, url: str, workloads: tuple[str, ...], work: Workload, vllm: str = ""
) -> list[Data]:
    """``workloads`` against the server at ``url``; ``vllm``: vLLM's served model name (it gets the
    reranker template from the client, cut where it joins query and document)."""
    import httpx

    limits = httpx.Limits(max_connections=work.concurrency, max_keepalive_connections=work.concurrency)
    named = {"model": vllm} if vllm else {}
    async with httpx.AsyncClient(limits=limits, timeout=600.0, trust_env=False) as client:

        async def post(path: str, body: Data) -> Data:
            response = await client.post(url + path, json={**named, **body})
            if response.status_code != 200:
                raise RuntimeError(f"{url}{path}: {response.status_code} {response.text[:300]}")
            answer: Data = response.json()
            return answer

        async def embed(i: int) -> Any:
            answer = await post("/v1/embeddings", {"input": [work.ids[i]], "encoding_format": "float"})
            return answer["data"][0]["embedding"]

        async def rerank(i: int) -> Any:
            query, docs = work.queries[i], work.rerank_docs[i]
            if vllm:
                halves = [rerank_halves(query, d) for d in docs]
                query, docs = halves[0][0], [document for _, document in halves]
            scores = np.full(len(docs), np.nan)
            for item in (await post("/v1/rerank", {"query": query, "documents": docs}))["results"]:
                scores[item["index"]] = item["relevance_score"]
            return scores

        calls = {"embed": embed, "rerank": rerank}
        return await measure(name, work, {w: calls[w] for w in workloads})


def start_serve(paths: dict[str, str], logs: Path, dtype: str, reranker: bool = True) -> LoopbackProcess:
    port = free_port()
    command = [sys.executable, "-m", "qwen3_rag.server", "--port", str(port), "--device", "cpu"]
    command += ["--dtype", dtype, "--no-progress", "--embedding-model", paths["embedding"]]
    command += ["--reranker-model", paths["reranker"]] if reranker else []
    log = logs / f"serve-{port}.log"
    server = LoopbackProcess(launch(command, log, child_env(foreign=False), ROOT), port, log)
    try:
        server.wait_healthy(START_TIMEOUT_S)
    except BaseException:
        server.stop()
        raise
    return server


def tree_memory_mb(pid: int) -> dict[str, float]:
    """RSS and PSS summed over a process and its descendants (vLLM's engine core is a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    tree, total = [pid], {"rss_mb": 0.0, "pss_mb": 0.0}
    while tree:
        member = tree.pop()
        tree += children.get(member, [])
        for key, line in (("rss_mb", "Rss"), ("pss_mb", "Pss")):
            total[key] += proc_mb(line, f"/proc/{member}/smaps_rollup", missing=0.0)
    return total


def run_memory(paths: dict[str, str], args: argparse.Namespace, logs: Path) -> Data:
    def workers(count: int, base_url: str = "") -> list[dict[str, float]]:
        """``count`` processes holding the model (or a remote backend), each measured while all are alive."""
        command = [sys.executable, "-m", "benchmarks.hold_model", paths["embedding"], args.dtype, base_url]
        processes = [
            subprocess.Popen(command, cwd=ROOT, env=child_env(foreign=False), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]  # fmt: skip
        try:
            for process in processes:  # its errors go to this suite's stderr
                assert process.stdout is not None
                said = select.select([process.stdout], [], [], START_TIMEOUT_S)[0]
                if not said or process.stdout.readline().strip() != "ready":
                    why = f"exit {process.wait(30)}" if said else f"no 'ready' in {START_TIMEOUT_S:.0f} s"
                    raise RuntimeError(f"a memory worker failed ({why}): {shlex.join(command)}")
            return [tree_memory_mb(process.pid) for process in processes]
        finally:
            for process in processes:
                process.kill()
                process.wait()

    def total(rows: list[dict[str, float]], **extra: Any) -> Data:
        return {"rss_mb": sum(r["rss_mb"] for r in rows), "pss_mb": sum(r["pss_mb"] for r in rows), **extra}

    n, one, each = args.workers, workers(1), workers(args.workers)
    server = start_serve(paths, logs, args.dtype, reranker=False)
    try:
        used = workers(n, base_url=server.base_url)
        served = tree_memory_mb(server.process.pid)
    finally:
        server.stop()
    rows = {"1 process loads the model": total(one), f"{n} processes, each loads the model": total(each)}
    rows[f"qwen3-rag serve + {n} workers using it"] = total(
        [served, *used], server_rss_mb=served["rss_mb"], worker_rss_mb=[w["rss_mb"] for w in used]
    )
    for row in rows.values():
        row["x_one_process_rss"] = row["rss_mb"] / rows["1 process loads the model"]["rss_mb"]
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
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="all contenders")
    parser.add_argument("--skip", nargs="+", choices=("serve", "vllm", "memory"), default=[])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    quiet_offline()
    args = parse_args(argv)
    suite = SuiteRun("serving", argv)
    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    work = build_workload(args)
    logs = Path(tempfile.mkdtemp(prefix="qwen3-rag-serving-"))
    suite.log(f"{len(work.documents)} documents, {len(work.queries)} rerank requests; in-process ...")
    runs = in_process(work, paths, args.dtype)
    servers: dict[str, dict[str, float]] = {}  # each server's memory after its run
    notes: list[str] = []

    def against(server: LoopbackProcess, name: str, label: str, vllm: str = "", *workloads: str) -> float:
        """Its start-up seconds; the runs against it; its process tree's memory; then it is stopped."""
        try:
            startup = server.wait_healthy(START_TIMEOUT_S)
            runs.extend(asyncio.run(over_http(name, server.url, workloads, work, vllm)))
            servers[label] = tree_memory_mb(server.process.pid)
        finally:
            server.stop()
        return startup

    if "serve" not in args.skip:
        suite.log("qwen3-rag serve ...")
        serve = start_serve(paths, logs, args.dtype)
        against(serve, "qwen3-rag serve (loopback)", "qwen3-rag serve (both models)", "", "embed", "rerank")
    if "vllm" not in args.skip and (vllm_python() is None or shape.head_dim < 32):
        why = "no .venv-vllm; bash .ci/setup-vllm" if shape.head_dim >= 32 else f"head_dim {shape.head_dim}"
        notes.append(f"vLLM: not run ({why})")
    elif "vllm" not in args.skip:
        suite.log("vLLM ...")
        startup = []
        for kind, workload in (("embedding", "embed"), ("reranker", "rerank")):
            vllm = start_vllm(kind, paths[kind], log_dir=logs, served_name=f"bench-{kind}", dtype=args.dtype)
            seconds = against(vllm, "vLLM CPU (loopback)", f"vLLM {kind} server", vllm.served_name, workload)
            startup.append(f"{seconds:.0f} s ({kind})")
        notes.append("vLLM start-up: " + ", ".join(startup))
    memory = None if "memory" in args.skip else run_memory(paths, args, logs)
    notes += [
        f"{name}: RSS {m['rss_mb']:.0f} MB (process tree, after the run)" for name, m in servers.items()
    ]
    settings = {"concurrency": args.concurrency, "documents": len(work.documents), "repeat": args.repeat}
    settings |= {"rerank_requests": len(work.queries), "rerank_docs": args.rerank_docs}
    suite.write(
        args.json,
        host=describe_host(),
        shape=asdict(shape),
        settings={**settings, "workers": args.workers, "dtype": args.dtype},
        runs=runs,
        memory=memory,
        server_memory=servers,
        notes=notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
