"""Peak memory of ingesting one ``--mb`` MiB text file with the real Qwen3 tokenizer (issue 9), the
streaming ingest against the old single tokenizer call, each in a fresh process after loading a tiny
random-weight model (its speed is not what is measured)."""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .common import SuiteRun, suite_parser
from .procfs import proc_mb


def _memory() -> dict[str, float]:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"rss_mb": proc_mb("VmRSS"), "hwm_mb": proc_mb("VmHWM"), "maxrss_mb": maxrss}


def _texts() -> Iterator[str]:
    from .corpus import iter_docstrings, stdlib_files

    files, docstrings = stdlib_files(), []
    for _, text in iter_docstrings(files):  # parsed lazily: a small file needs only a few
        docstrings.append(text)
        yield text
    while True:
        yield from (path.read_text(encoding="utf-8", errors="ignore") for path in files)
        yield from docstrings


def write_text_file(path: Path, size: int) -> int:
    """``size`` bytes of real UTF-8 text (a few fewer: whole characters); the bytes written."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        written = 0
        for text in _texts():
            data = (text.strip() + "\n\n").encode("utf-8")
            handle.write(data[: size - written].decode("utf-8", errors="ignore"))
            if written + len(data) > size:
                break
            written += len(data)
    return path.stat().st_size


def _child(kind: str, model: str, file: str, store_dir: str) -> dict[str, Any]:
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.pipeline import Ingestor, QdrantStore

    embedder = Qwen3Embedder.load(model)
    embedder.embed_documents(["warm up"])  # the first call's allocations belong to the baseline
    store = QdrantStore("ingest_memory", path=store_dir) if kind == "streaming" else None
    before, start = _memory(), time.perf_counter()
    if store is None:  # the chunker before issue 9: the whole file read, one tokenizer call
        text = Path(file).read_text(encoding="utf-8-sig")
        encoded = embedder.tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        result: dict[str, Any] = {"tokens": len(encoded["offset_mapping"])}
    else:
        report = Ingestor(store, embedder, progress=False).ingest([file])
        result = {"chunks": report.chunks, "embedded": report.embedded, "skipped": len(report.skipped)}
        result["dtype"] = str(embedder.runtime.dtype).replace("torch.", "")
    return {"before": before, "peak": _memory(), "seconds": time.perf_counter() - start, **result}


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("ingest_memory", __doc__)
    parser.add_argument("--mb", type=float, default=50.0, help="size of the text file in MiB")
    args = parser.parse_args(argv)
    from .checkpoints import SHAPES, write_checkpoints
    from .host import describe_host

    suite, results = SuiteRun("ingest_memory", argv), dict[str, Any]()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")  # the tokenizer's threads, as a user has them
    with tempfile.TemporaryDirectory(prefix="ingest-memory-") as tmp:
        work = Path(tmp)
        model = str(write_checkpoints(SHAPES["micro"], work / "checkpoints")["embedding"])
        size = write_text_file(file := work / "big.txt", int(args.mb * 2**20))
        for kind in ("streaming", "old"):  # each in a fresh process, so peaks never mix
            suite.log(f"{kind} ...")
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
                results[kind] = child.submit(_child, kind, model, str(file), str(work / "store")).result()
    suite.write(args.json, mb=args.mb, file_bytes=size, host=describe_host(), **results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
