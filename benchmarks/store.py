"""The embedded store at real sizes (issue 19): Qdrant Edge, qdrant-client's local mode and a numpy
floor (dense only, in RAM) through ``QdrantStore``; per engine and size one fresh process ingests, another
opens and queries. Vectors cluster around random centres, as real embeddings do (DESIGN.md)."""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .common import SuiteRun, suite_parser
from .procfs import proc_mb

DIM, WINDOW, BATCH, CENTRES, TOP = 1024, 1_000, 64, 1_000, 50  # BATCH: Ingestor's upsert batch
NOISE = 0.015  # per coordinate: cosine ~0.9 to its centre, ~0.8 within a cluster (as real embeddings)
CHUNKS_PER_SOURCE = 20
ENGINES = ("edge", "local", "numpy")
_WORDS = """vector search engine index query payload filter segment shard memory disk recall latency
document chunk token embedding rerank hybrid sparse dense cosine cluster server laptop store ingest
update delete count facet scroll retrieve optimize graph neighbour centroid"""
WORDS = _WORDS.split()  # the payload texts' vocabulary
LOCAL_SKIPPED = "not run: local mode holds every point in Python objects (3.6 GB RSS at 50k; OOM-killed at "
LOCAL_SKIPPED += "16.7 GB at 200k on this 24 GB machine)"


def source(point: int) -> str:
    return f"/corpus/doc{point // CHUNKS_PER_SOURCE:06d}.txt"


def near(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unit vectors, each near one of the random centres."""
    c = np.random.default_rng(0).normal(size=(CENTRES, DIM)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = c[rng.integers(0, CENTRES, n)] + NOISE * rng.normal(size=(n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def window_vectors(w: int) -> np.ndarray:
    return near(np.random.default_rng(10_000 + w), WINDOW)


def ingest(engine: str, size: int, folder: Path) -> dict[str, Any]:
    from qdrant_client import models

    from qwen3_rag.pipeline import EmbeddingSpec, QdrantStore
    from qwen3_rag.pipeline._layout import chunk_payload, point_id

    if engine == "numpy":
        np.save(folder / "vectors.npy", np.concatenate([window_vectors(w) for w in range(size // WINDOW)]))
        return {"windows_points_per_s": [], "index_s": None}
    windows = []
    with QdrantStore("bench", path=folder, engine=engine) as store:
        store.ensure(EmbeddingSpec("Qwen/Qwen3-Embedding-0.6B", DIM))
        for w in range(size // WINDOW):
            rng, ids, payloads, sparse = np.random.default_rng(20_000 + w), [], [], []
            for i in range(w * WINDOW, (w + 1) * WINDOW):  # ~2 KB texts, Zipf-distributed sparse terms
                text = " ".join(WORDS[j] for j in rng.integers(0, len(WORDS), 300))[:2048]
                ids.append(point_id(source(i), i % CHUNKS_PER_SOURCE))
                payloads.append(chunk_payload(source(i), i % CHUNKS_PER_SOURCE, text))
                terms = np.unique(rng.zipf(1.3, size=40) % 30_000)
                values = rng.uniform(0.2, 2, len(terms)).tolist()
                sparse.append(models.SparseVector(indices=terms.tolist(), values=values))
            vectors, started = window_vectors(w).tolist(), time.perf_counter()  # lists, as Ingestor passes
            for s in range(0, WINDOW, BATCH):
                batch = slice(s, s + BATCH)
                store.upsert_chunks(ids[batch], payloads[batch], vectors[batch], sparse[batch])
            windows.append(WINDOW / (time.perf_counter() - started))
        started = time.perf_counter()
        indexed = store.build_index(say=lambda line: print(line, file=sys.stderr, flush=True))
    return {"windows_points_per_s": windows, "index_s": time.perf_counter() - started if indexed else None}


def timed(search: Callable[[int], Any], n: int) -> dict[str, float]:
    """p50 and p95 milliseconds of ``search(i)`` over queries ``0..n-1``, after two warm-ups."""
    times = []
    for i in [0, 1, *range(n)]:
        started = time.perf_counter()
        search(i % n)
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": float(np.percentile(times[2:], 50)), "p95": float(np.percentile(times[2:], 95))}


def query(engine: str, size: int, folder: Path, n: int) -> dict[str, Any]:
    from qdrant_client import models

    rng = np.random.default_rng(99)
    q, q_sparse = near(rng, n), []
    for _ in range(n):
        terms = sorted(set(rng.integers(0, 200, 5).tolist()))
        q_sparse.append(models.SparseVector(indices=terms, values=[1.0] * len(terms)))
    docs = np.random.default_rng(7).integers(0, size // CHUNKS_PER_SOURCE, n)
    out: dict[str, Any] = {"disk_mb": sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20}
    started = time.perf_counter()
    if engine == "numpy":
        x, source_of = np.load(folder / "vectors.npy"), np.arange(size) // CHUNKS_PER_SOURCE
        out.update(open_s=time.perf_counter() - started, rss_after_open_mb=proc_mb("VmRSS"))

        def filtered(i: int) -> list[int]:
            rows = np.flatnonzero(source_of == docs[i])
            return rows[np.argsort(-(x[rows] @ q[i]))[:TOP]].tolist()

        searches = {"dense_ms": lambda i: np.argpartition(-(x @ q[i]), TOP)[:TOP].tolist()}
        searches["filtered_ms"] = filtered
    else:
        from qwen3_rag.pipeline import QdrantStore, to_qdrant_filter
        from qwen3_rag.pipeline._layout import point_id

        store = QdrantStore("bench", path=folder, create=False)
        store.open()
        count = store.count()
        out.update(open_s=time.perf_counter() - started, rss_after_open_mb=proc_mb("VmRSS"))
        assert count == size, (count, size)
        where = [to_qdrant_filter({"source": source(d * CHUNKS_PER_SOURCE)}) for d in docs]
        number = {point_id(source(i), i % CHUNKS_PER_SOURCE): i for i in range(size)}

        def search(i: int, **options: Any) -> list[int]:
            return [number[hit.id] for hit in store.query(q[i].tolist(), limit=TOP, **options)]

        searches = {"dense_ms": search, "hybrid_ms": lambda i: search(i, sparse=q_sparse[i])}
        searches["filtered_ms"] = lambda i: search(i, query_filter=where[i])
        searches["hybrid_filtered_ms"] = lambda i: search(i, sparse=q_sparse[i], query_filter=where[i])
    out.update({key: timed(search, n) for key, search in searches.items()})
    scores = np.concatenate([q @ window_vectors(w).T for w in range(size // WINDOW)], axis=1)
    exact = np.argpartition(-scores, TOP, axis=1)[:, :TOP]
    found = [len(set(searches["dense_ms"](i)) & set(exact[i].tolist())) / TOP for i in range(n)]
    return {**out, "recall_at_50": float(np.mean(found))}


def measure(engine: str, size: int, n: int, folder: Path) -> dict[str, Any]:
    """One row: ``ingest`` then ``query``, each in a fresh process so memory figures never mix."""
    row: dict[str, Any] = {"engine": engine, "points": size}
    for phase, args in ((ingest, ()), (query, (n,))):
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
                row.update(child.submit(phase, engine, size, folder, *args).result())
        except Exception as error:  # a crash or an OOM kill: the row says so, the other rows run
            return {**row, "error": f"{phase.__name__} failed: {error!r}"[:300]}
    if rates := row["windows_points_per_s"]:
        row["ingest_points_per_s"] = float(size / sum(WINDOW / r for r in rates))
        row["first_window"], row["last_window"] = rates[0], rates[-1]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("store", __doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000, 300_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--local-max", type=int, default=50_000, help="largest size local mode runs at")
    parser.add_argument("--queries", type=int, default=30, help="timed queries per kind (local: a fifth)")
    args = parser.parse_args(argv)
    from importlib.metadata import version

    suite, rows = SuiteRun("store", argv), list[dict[str, Any]]()
    versions = {p: version(p) for p in ("qdrant-edge-py", "qdrant-client", "numpy")}
    for size in sorted(args.sizes):
        for engine in args.engines:
            if engine == "local" and size > args.local_max:
                rows.append({"engine": engine, "points": size, "skipped": LOCAL_SKIPPED})
                continue
            suite.log(f"{engine} {size} ...")
            with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
                n = max(5, args.queries // 5) if engine == "local" else args.queries
                rows.append(measure(engine, size, n, Path(folder)))
            suite.log(json.dumps(rows[-1])[:400])
            suite.write(args.json, versions=versions, rows=rows)  # partial results survive a cut
    return 0


if __name__ == "__main__":
    sys.exit(main())
