"""Measurement 2: 256 single-query requests, concurrent (asyncio tasks, threads, adapters) vs
one at a time vs one ideal batch. Adapters are imported lazily and skipped when not installed."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from .common import Row, Section, Settings, best_time

IDEAL = "one ideal batch (qwen3-rag)"


def _gather(fn: Callable[[str], Awaitable[Any]], queries: Sequence[str]) -> np.ndarray:
    async def main() -> list[Any]:
        return list(await asyncio.gather(*(fn(q) for q in queries)))

    return np.asarray([np.asarray(v).reshape(-1) for v in asyncio.run(main())], dtype=np.float32)


def _threads(fn: Callable[[str], Any], queries: Sequence[str]) -> tuple[float, np.ndarray]:
    """One already-running thread per request, released together (as a server's pool would be);
    returns the seconds from release to the last result, and the results."""
    results: list[Any] = [None] * len(queries)
    go = threading.Event()

    def work(index: int) -> None:
        go.wait()
        results[index] = fn(queries[index])

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(queries))]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    go.set()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    return seconds, np.asarray([np.asarray(v).reshape(-1) for v in results], dtype=np.float32)


def _adapters(path: str) -> tuple[dict[str, Any], list[str]]:
    found: dict[str, Any] = {}
    missing: list[str] = []
    try:
        lc = importlib.import_module("langchain_qwen3_rag")
        found["LangChain Qwen3Embeddings"] = lc.Qwen3Embeddings(model=path, device="cpu", dtype="float32")
    except Exception as exc:  # any failure means "not available" in a benchmark
        missing.append(f"LangChain adapter ({type(exc).__name__}: {exc})")
    try:
        li = importlib.import_module("llama_index.embeddings.qwen3_rag")
        found["LlamaIndex Qwen3Embedding"] = li.Qwen3Embedding(model_name=path, device="cpu", dtype="float32")
    except Exception as exc:
        missing.append(f"LlamaIndex adapter ({type(exc).__name__}: {exc})")
    return found, missing


def run(settings: Settings) -> Section:
    from qwen3_rag import Qwen3Embedder

    n = settings.concurrent_requests
    pool = settings.corpus.queries
    queries = [pool[i % len(pool)] + ("" if i < len(pool) else f" ({i})") for i in range(n)]
    emb = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="float32")
    emb.embed_queries(queries[:4])
    tokens = sum(len(ids) for ids in emb.encode_ids(emb._query_texts(queries, None)))
    section = Section(
        "concurrency",
        f"{n} concurrent single-query embedding requests ({tokens} tokens, fp32)",
        baseline=IDEAL,
        unit="queries/s",
    )
    repeat = settings.repeat
    seconds, ideal = best_time(lambda: emb.embed_queries(queries), repeat)
    section.rows.append(Row(IDEAL, seconds, n, tokens, note="embed_queries(all 256)"))

    def add(name: str, fn: Callable[[], Any], note: str) -> None:
        if name.endswith("threads"):  # the helper times itself, without starting the threads
            runs = [fn() for _ in range(max(1, repeat))]
            seconds, got = min(runs, key=lambda r: r[0])
        else:
            seconds, got = best_time(fn, repeat)
        diff = float(np.abs(got - ideal).max()) if got.shape == ideal.shape else float("nan")
        section.rows.append(Row(name, seconds, n, tokens, diff, note=note))

    add(
        "qwen3-rag, asyncio tasks",
        lambda: _gather(lambda q: emb.aembed_queries([q]), queries),
        f"{n} tasks x aembed_queries([q])",
    )
    add(
        "qwen3-rag, threads",
        lambda: _threads(lambda q: emb.embed_queries([q]), queries),
        f"{n} threads x embed_queries([q])",
    )
    adapters, missing = _adapters(settings.paths["embedding"])
    for name, adapter in adapters.items():
        if name.startswith("LangChain"):
            aone, one = adapter.aembed_query, adapter.embed_query
        else:
            aone, one = adapter.aget_query_embedding, adapter.get_query_embedding
        add(f"{name}, asyncio tasks", partial(_gather, aone, queries), aone.__name__)
        add(f"{name}, threads", partial(_threads, one, queries), one.__name__)
    section.notes.extend(f"not available: {m}" for m in missing)
    add(
        "one at a time",
        lambda: np.stack([emb.embed_queries([q])[0] for q in queries]),
        "each request alone, in turn (what a per-call executor fallback amounts to)",
    )
    return section
