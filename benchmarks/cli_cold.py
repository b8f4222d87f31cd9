"""Cold command-line round-trips (issue 24): each command a fresh ``python -m qwen3_rag`` process on
``--files`` ingested notes, tiny checkpoints (the command's own cost is measured: imports, store,
round-trips), and ``query --server URL`` against a warm ``qwen3-rag serve`` on 127.0.0.1."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import SuiteRun, suite_parser
from .loopback import free_port, wait_for_health

QUESTION = "How do I rotate the API key?"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
ENV.pop("QWEN3_RAG_SERVER", None)


def _cli(argv: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds and output of one ``python -m qwen3_rag ARGV`` process (which must succeed)."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "qwen3_rag", *argv]
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode and "does not exist" not in done.stderr:
        raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - start, done.stdout


def _timed(label: str, argv: Callable[[int], list[str]], repeat: int, cwd: Path) -> dict[str, Any]:
    runs = [_cli(argv(i), cwd)[0] for i in range(repeat)]  # ``argv(i)``: the command line of run ``i``
    return {"command": label, "median_s": statistics.median(runs), "min_s": min(runs), "runs_s": runs}


def measure(work: Path, files: int, repeat: int) -> dict[str, Any]:
    from qwen3_rag.testing import write_tiny_checkpoints

    (docs := work / "docs").mkdir()
    for i in range(files):
        text = "\n\n".join(
            f"Section {j} of note {i}: to rotate key {i}-{j}, open Settings, then Keys, and press Rotate. "
            f"The audit log records who rotated it and when; old keys stop working after {j + 1} hours."
            for j in range(5)
        )
        (docs / f"note-{i:04d}.md").write_text(f"# Note {i}\n\n{text}\n", encoding="utf-8")
    paths = write_tiny_checkpoints(work / "models")
    store = ["--qdrant-path", str(work / "qdrant"), "--collection", "kb"]
    models = ["--embedding-model", str(paths["embedding"]), "--device", "cpu", "--dtype", "float32"]
    ingest_s, _ = _cli(["ingest", str(docs), *store, *models, "--no-progress", "--chunk-tokens", "64"], work)
    reranker = ["--reranker-model", str(paths["reranker"])]
    query = ["query", QUESTION, *store, *reranker, *models[2:], "--no-progress"]
    cases = {
        "qwen3-rag --help": lambda i: ["--help"],
        "qwen3-rag sources": lambda i: ["sources", *store],
        "qwen3-rag remove FILE": lambda i: ["remove", str(docs / f"note-{i:04d}.md"), *store],
        "qwen3-rag query (no such collection)": lambda i: ["query", "q", *store[:3], "nope"],
        "qwen3-rag query (models in-process)": lambda i: query,
    }
    rows = [_timed(label, argv, repeat, work) for label, argv in cases.items()]
    port = free_port()
    serve = ["serve", "--port", str(port), *models, *reranker, "--no-progress"]
    server = subprocess.Popen([sys.executable, "-m", "qwen3_rag", *serve], env=ENV, stdout=subprocess.DEVNULL)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        if wait_for_health(url, server, deadline=deadline, interval_s=0.2) != "healthy":
            raise RuntimeError("the server did not start")
        served = ["query", QUESTION, *store, "--server", f"{url}/v1", "--no-progress"]
        _cli(served, work)  # warm the server (first forward passes, tokenizer route)
        rows.append(_timed("qwen3-rag query --server URL (warm server)", lambda i: served, repeat, work))
    finally:
        server.terminate()
        server.wait(timeout=60)
    chunks = sum(s["chunks"] for s in json.loads(_cli(["sources", "--json", *store], work)[1])["sources"])
    return {"files": files, "chunks": chunks, "ingest_s": ingest_s, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("cli_cold", __doc__)
    parser.add_argument("--files", type=int, default=200, help="markdown files to ingest (5 chunks each)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (the median is reported)")
    args = parser.parse_args(argv)
    suite = SuiteRun("cli_cold", argv)
    with tempfile.TemporaryDirectory(prefix="qwen3-rag-cli-cold-") as tmp:
        suite.write(args.json, **measure(Path(tmp), args.files, args.repeat), repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
