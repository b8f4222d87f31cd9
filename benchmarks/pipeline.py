"""Measurement 5: the two-stage pipeline on each embedded Qdrant option: ingestion chunks/s,
query latency p50/p95 (embed + search + rerank top_k -> top_n). Skipped when qwen3_rag.pipeline
or qdrant-client is missing."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import Row, Section, Settings, unavailable

TOP_K = 50
TOP_N = 5
CHUNK_TOKENS = 512


def _write_files(settings: Settings, folder: Path, count: int) -> None:
    """One short file per chunk (each under the chunk size), cycling the corpus documents."""
    docs = settings.corpus.documents
    for i in range(count):
        text = docs[i % len(docs)]
        (folder / f"doc{i:05d}.txt").write_text(f"{text}\n\n[copy {i}]", encoding="utf-8")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def run(settings: Settings) -> Section:
    try:
        from qwen3_rag.pipeline import Ingestor, QdrantStore, TwoStageRetriever
    except Exception as exc:  # not written yet or qdrant-client missing
        return unavailable("pipeline", "Pipeline", f"{type(exc).__name__}: {exc}")
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    emb = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="float32")
    rr = Qwen3Reranker.load(settings.paths["reranker"], device="cpu", dtype="float32")
    n = settings.pipeline_chunks
    queries = settings.corpus.queries[: 10 if settings.quick else 50]
    section = Section(
        "pipeline",
        f"Pipeline: ingest {n} chunks, then {len(queries)} queries (embed + search top {TOP_K} + "
        f"rerank -> top {TOP_N}), fp32",
        baseline="",
        unit="chunks/s",
    )
    with tempfile.TemporaryDirectory(prefix="qwen3-rag-bench-") as tmp:
        files = Path(tmp) / "files"
        files.mkdir()
        _write_files(settings, files, n)
        options: list[tuple[str, dict[str, Any]]] = [
            ("Qdrant embedded, in memory", {"location": ":memory:"}),
            ("Qdrant embedded, local folder", {"path": str(Path(tmp) / "qdrant")}),
        ]
        for name, kwargs in options:
            store = QdrantStore("bench", **kwargs)
            try:
                ingestor = Ingestor(store, emb, chunk_tokens=CHUNK_TOKENS, overlap=0, progress=False)
                start = time.perf_counter()
                report = ingestor.ingest([str(files)])
                ingest_s = time.perf_counter() - start
                chunks = store.count()
                retriever = TwoStageRetriever(store, emb, rr, top_k=TOP_K, top_n=TOP_N)
                retriever.retrieve(queries[0])
                latencies = []
                for query in queries:
                    start = time.perf_counter()
                    retriever.retrieve(query)
                    latencies.append(time.perf_counter() - start)
            finally:
                store.close()
            section.rows.append(
                Row(
                    name,
                    ingest_s,
                    chunks,
                    0,
                    note=getattr(report, "summary", lambda: "")(),
                    extra={
                        "query_p50_ms": 1000 * statistics.median(latencies),
                        "query_p95_ms": 1000 * _percentile(latencies, 0.95),
                    },
                )
            )
    return section
