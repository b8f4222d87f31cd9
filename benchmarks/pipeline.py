"""The two-stage pipeline on each embedded Qdrant option: ingest chunks/s, then query latency p50/p95
(embed + search top_k + rerank -> top_n)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import Data, Settings, row, section

TOP_K, TOP_N, CHUNK_TOKENS = 50, 5, 512


def pipeline(s: Settings, done: list[Data]) -> list[Data]:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker
    from qwen3_rag.pipeline import Ingestor, QdrantStore, TwoStageRetriever

    emb = Qwen3Embedder.load(s.paths["embedding"], device="cpu", dtype="float32")
    rr = Qwen3Reranker.load(s.paths["reranker"], device="cpu", dtype="float32")
    n, docs = s.pipeline_chunks, s.corpus.documents
    queries = s.corpus.queries[: 10 if s.quick else 50]
    rows = []
    with tempfile.TemporaryDirectory(prefix="qwen3-rag-bench-") as tmp:
        files = Path(tmp, "files")
        files.mkdir()
        for i in range(n):  # one short file per chunk (each under the chunk size), cycling the corpus
            (files / f"doc{i:05d}.txt").write_text(f"{docs[i % len(docs)]}\n\n[copy {i}]", encoding="utf-8")
        options: dict[str, dict[str, Any]] = {"Qdrant embedded, in memory": {"location": ":memory:"},
                   "Qdrant embedded, local folder": {"path": str(Path(tmp, "qdrant"))}}  # fmt: skip
        for name, where in options.items():
            store = QdrantStore("bench", **where)
            try:
                start = time.perf_counter()
                ingestor = Ingestor(store, emb, chunk_tokens=CHUNK_TOKENS, overlap=0, progress=False)
                report = ingestor.ingest([str(files)])
                ingest_s = time.perf_counter() - start
                retriever = TwoStageRetriever(store, emb, rr, top_k=TOP_K, top_n=TOP_N)
                retriever.retrieve(queries[0])
                latencies = []
                for query in queries:
                    start = time.perf_counter()
                    retriever.retrieve(query)
                    latencies.append(time.perf_counter() - start)
                chunks = store.count()
            finally:
                store.close()
            p50, p95 = np.median(latencies), np.percentile(latencies, 95, method="nearest")
            ms = {"query_p50_ms": float(1000 * p50), "query_p95_ms": float(1000 * p95)}
            rows.append(row(name, ingest_s, chunks, 0, None, report.summary(), **ms))
    title = f"Pipeline: ingest {n} chunks, then {len(queries)} queries (embed + search top {TOP_K} + rerank"
    title += f" -> top {TOP_N}), fp32"
    return [section("pipeline", title, rows, baseline="", unit="chunks/s")]
