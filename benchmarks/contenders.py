"""qwen3-rag against the usual ways of running the same weights: sentence-transformers (built the way
Qwen3 needs), the official example code (``qwen3_rag.testing_reference``, the tests' reference) and
the LangChain and LlamaIndex adapters under concurrent requests. Every contender loads its own
float32 weights on the CPU, is warmed up, then timed (best of ``repeat``)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from qwen3_rag.testing_reference import MAX_LENGTH

from .common import Data, Settings, best_time, gap, row, section

EMBED_BATCH, RERANK_BATCH = 16, 8  # for the contenders that take a fixed batch size
IDEAL = "one ideal batch (qwen3-rag)"
CPU32: dict[str, Any] = {"device": "cpu", "dtype": "float32"}
Work = list[tuple[str, list[str]]]  # reranking: (query, documents) per query
Contender = tuple[str, Callable[[], Callable[[Any], Any]], str, int]  # name, load, note, timed runs


def st_embedder(path: str, dtype: torch.dtype = torch.float32) -> Any:
    """SentenceTransformer from explicit modules: the bare folder would get mean pooling."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    kwargs = {"model_kwargs": {"dtype": dtype}, "processor_kwargs": {"padding_side": "left"}}
    body = Transformer(path, max_seq_length=MAX_LENGTH, **kwargs)
    pooling = Pooling(body.get_embedding_dimension(), pooling_mode="lasttoken")
    return SentenceTransformer(modules=[body, pooling, Normalize()], device="cpu")


def st_cross_encoder(path: str) -> Any:
    """CrossEncoder on the causal-LM reranker (the folder's chat template renders the official prompt)."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path, device="cpu", model_kwargs={"dtype": torch.float32}, max_length=MAX_LENGTH)


def compare(
    contenders: list[Contender], work: Any, warm: Any, items: int, tokens: int
) -> tuple[list[Data], list[str]]:
    """Each contender loaded, warmed on ``warm``, timed on ``work`` and freed; the first one's
    output is what the others' are compared with."""
    rows: list[Data] = []
    notes, ours = [], None
    for name, load, note, runs in contenders:
        try:
            fn = load()
        except ImportError as exc:
            notes.append(f"not available: {name} ({exc}); pip install -e '.[bench]'")
            continue
        fn(warm)
        seconds, out = best_time(partial(fn, work), runs)
        rows.append(row(name, seconds, items, tokens, None if ours is None else gap(out, ours), note))
        ours = out if ours is None else ours
        del fn
        gc.collect()
    return rows, notes


def embedding(s: Settings, done: list[Data]) -> list[Data]:
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.testing_reference import ReferenceEmbedder

    path, docs, bs = s.paths["embedding"], s.corpus.documents, EMBED_BATCH
    tokens = sum(s.corpus.document_tokens) + len(docs)  # + the end token of each
    emb = Qwen3Embedder.load(path, **CPU32)
    st_note = f"Transformer + Pooling(lasttoken) + Normalize, batch {bs}, length-sorted"
    budget = f"token budget {emb.runtime.batcher.token_budget}"
    runs = s.repeat
    rows, notes = compare([
        ("qwen3-rag", lambda: emb.embed_documents, budget, runs),
        ("sentence-transformers", lambda: partial(st_embedder(path).encode, batch_size=bs), st_note, runs),
        ("official example loop", lambda: partial(ReferenceEmbedder(path).embed, batch_size=bs),
         f"batch {bs}, input order", runs),
    ], docs, docs[:4], len(docs), tokens)  # fmt: skip
    title = f"Document embedding ({len(docs)} texts, {tokens} tokens, fp32)"
    return [section("embedding", title, rows, notes=notes)]


def workload(s: Settings, queries: int, per_query: int) -> Work:
    docs, pool = s.corpus.documents, s.corpus.queries
    return [
        (pool[q % len(pool)], [docs[((q * 37) % len(docs) + i) % len(docs)] for i in range(per_query)])
        for q in range(queries)
    ]


def score(rr: Any, work: Work) -> np.ndarray:
    """One query: ``score``; several: concurrent ``ascore`` calls, as a serving app makes them."""
    if len(work) == 1:
        return np.asarray(rr.score(*work[0]))

    async def every() -> list[list[float]]:
        return list(await asyncio.gather(*(rr.ascore(q, docs) for q, docs in work)))

    return np.asarray([x for scores in asyncio.run(every()) for x in scores])


def by_pairs(score_pairs: Callable[..., Any]) -> Callable[[Work], Any]:
    return lambda work: score_pairs([(q, d) for q, docs in work for d in docs], batch_size=RERANK_BATCH)


def reranking(s: Settings, done: list[Data]) -> list[Data]:
    from qwen3_rag import Qwen3Reranker
    from qwen3_rag.testing_reference import ReferenceReranker

    path, bs = s.paths["reranker"], RERANK_BATCH
    rr = Qwen3Reranker.load(path, **CPU32)
    sections = []
    for queries, per_query in s.rerank_scenarios:
        work = workload(s, queries, per_query)
        pairs = queries * per_query
        tokens = sum(len(ids) for q, docs in work for ids in rr.encode_ids(rr._bodies(q, docs, None)))
        how = "score()" if queries == 1 else f"{queries} concurrent ascore() calls"
        rows, notes = compare([
            ("qwen3-rag", lambda: partial(score, rr), how, s.repeat),
            ("sentence-transformers CrossEncoder", lambda: by_pairs(st_cross_encoder(path).predict),
             f"causal-LM reranker + chat template, batch {bs}, length-sorted", s.repeat),
            # timed once: 20x+ slower, its repeats were most of the suite's time
            ("official example code", lambda: by_pairs(ReferenceReranker(path).score_pairs),
             f"batch {bs}, input order, all positions' logits, timed once", 1),
        ], work, [(s.corpus.queries[0], s.corpus.documents[:2])], pairs, tokens)  # fmt: skip
        title = f"Reranking {queries} quer{'y' if queries == 1 else 'ies'} x {per_query} documents"
        title += f" ({pairs} pairs, {tokens} tokens, fp32)"
        sections.append(section(f"rerank_{queries}x{per_query}", title, rows, unit="pairs/s", notes=notes))
    return sections


def clocked(fn: Callable[[list[str]], Any]) -> Callable[[list[str]], tuple[float, Any]]:
    def run(queries: list[str]) -> tuple[float, Any]:
        start = time.perf_counter()
        out = fn(queries)
        return time.perf_counter() - start, out

    return run


def tasks(one: Callable[[str], Any]) -> Callable[[list[str]], tuple[float, Any]]:
    """Every query its own asyncio task."""

    async def every(queries: list[str]) -> list[Any]:
        return list(await asyncio.gather(*(one(q) for q in queries)))

    return clocked(lambda queries: asyncio.run(every(queries)))


def threads(one: Callable[[str], Any]) -> Callable[[list[str]], tuple[float, Any]]:
    """Every query its own already-started thread, all released together (as a server's pool would
    be): timed from the release to the last result."""

    def run(queries: list[str]) -> tuple[float, Any]:
        results: list[Any] = [None] * len(queries)
        go = threading.Event()

        def work(i: int) -> None:
            go.wait()
            results[i] = one(queries[i])

        pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(queries))]
        for thread in pool:
            thread.start()
        start = time.perf_counter()
        go.set()
        for thread in pool:
            thread.join()
        return time.perf_counter() - start, results

    return run


ADAPTERS = {  # name: module, class, model argument, async and sync single-query methods
    "LangChain Qwen3Embeddings": "langchain_qwen3_rag Qwen3Embeddings model aembed_query embed_query",
    "LlamaIndex Qwen3Embedding": "llama_index.embeddings.qwen3_rag Qwen3Embedding model_name "
    "aget_query_embedding get_query_embedding",
}


def concurrency(s: Settings, done: list[Data]) -> list[Data]:
    """Many single-query requests at once (asyncio tasks, threads, through the adapters) against
    one ideal batch of them all and against one request at a time."""
    from qwen3_rag import Qwen3Embedder

    n, pool, path = s.concurrent, s.corpus.queries, s.paths["embedding"]
    queries = [pool[i % len(pool)] + ("" if i < len(pool) else f" ({i})") for i in range(n)]
    emb = Qwen3Embedder.load(path, **CPU32)
    emb.embed_queries(queries[:4])
    tokens = sum(len(ids) for ids in emb.encode_ids(emb._query_texts(queries, None)))
    paths = [
        (IDEAL, clocked(emb.embed_queries), f"embed_queries(all {n})"),
        ("qwen3-rag, asyncio tasks", tasks(lambda q: emb.aembed_queries([q])),
         f"{n} tasks x aembed_queries([q])"),
        ("qwen3-rag, threads", threads(lambda q: emb.embed_queries([q])),
         f"{n} threads x embed_queries([q])"),
    ]
    notes = []
    for name, spec in ADAPTERS.items():
        module, cls, arg, aone, one = spec.split()
        try:
            adapter = getattr(importlib.import_module(module), cls)(**{arg: path}, **CPU32)
        except Exception as exc:  # any failure means "not available" in a benchmark
            notes.append(f"not available: {name.split()[0]} adapter ({type(exc).__name__}: {exc})")
            continue
        paths += [(f"{name}, asyncio tasks", tasks(getattr(adapter, aone)), aone),
                  (f"{name}, threads", threads(getattr(adapter, one)), one)]  # fmt: skip
    one_by_one = clocked(lambda qs: [emb.embed_queries([q])[0] for q in qs])
    note = "each request alone, in turn (what a per-call executor fallback amounts to)"
    paths.append(("one at a time", one_by_one, note))
    rows, ideal = [], None
    for name, fn, note in paths:
        seconds, out = min((fn(queries) for _ in range(max(1, s.repeat))), key=lambda r: r[0])
        out = np.asarray(out, dtype=np.float32).reshape(n, -1)
        rows.append(row(name, seconds, n, tokens, None if ideal is None else gap(out, ideal), note))
        ideal = out if ideal is None else ideal
    title = f"{n} concurrent single-query embedding requests ({tokens} tokens, fp32)"
    return [section("concurrency", title, rows, baseline=IDEAL, unit="queries/s", notes=notes)]
