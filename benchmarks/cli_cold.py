"""Cold command-line round-trips (issue 24): what a user waits for, each command a fresh process.

``python -m benchmarks.cli_cold [--files 200] [--repeat 5] [--json OUT]`` builds tiny random-weight
checkpoints and a folder of ``--files`` markdown files, ingests it with ``qwen3-rag ingest``, then
times, each as a new ``python -m qwen3_rag`` process (median of ``--repeat``, wall clock):

- ``qwen3-rag --help``, ``sources``, ``remove FILE`` (another file each time), and ``query`` on a
  collection that does not exist (an error path: it must not import torch);
- ``query`` with the models loaded in-process, and the same question split into its phases in one
  instrumented child (import / store open / model load / search + rerank), as the command runs them;
- ``query --server URL`` against a warm ``qwen3-rag serve`` of the same checkpoints.

The checkpoints are the test suite's tiny ones (2 layers, hidden 64): model load is small here,
and what is measured is the command's own cost (imports, store, round-trips), which is the same
with real weights. The server is started on 127.0.0.1 and stopped at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from .common import SuiteRun, suite_parser

QUESTION = "How do I rotate the API key?"

PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
from qwen3_rag._cli import build_parser
from qwen3_rag.pipeline import QdrantStore, TwoStageRetriever
t1 = time.perf_counter()
args = build_parser().parse_args(sys.argv[1:])
store = QdrantStore(args.collection, path=args.qdrant_path, create=False)
store.open()
t2 = time.perf_counter()
retriever = TwoStageRetriever.from_collection(
    store, reranker=args.reranker_model, device="cpu", dtype="float32", top_k=args.top_k, top_n=args.top_n
)
t3 = time.perf_counter()
retriever.retrieve(args.question)
t4 = time.perf_counter()
phases = {"import_s": t1 - t0, "store_open_s": t2 - t1, "model_load_s": t3 - t2, "search_rerank_s": t4 - t3}
print(json.dumps(phases))
"""


def _env() -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env.pop("QWEN3_RAG_SERVER", None)
    return env


def _cli(argv: list[str], cwd: Path) -> float:
    """Wall seconds of one ``python -m qwen3_rag ARGV`` process (which must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "qwen3_rag", *argv], cwd=cwd, env=_env(), capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0 and "does not exist" not in done.stderr:
        raise RuntimeError(f"qwen3-rag {shlex.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def _timed(label: str, runs: list[float]) -> dict[str, Any]:
    return {"command": label, "median_s": statistics.median(runs), "min_s": min(runs), "runs_s": runs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(paths: dict[str, Path], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "qwen3_rag.server", "--port", str(port), "--device", "cpu"]
    command += ["--dtype", "float32", "--no-progress"]
    command += ["--embedding-model", str(paths["embedding"]), "--reranker-model", str(paths["reranker"])]
    log = (work / "server.log").open("wb")
    process = subprocess.Popen(command, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not start: {(work / 'server.log').read_text()[-2000:]}")


def _write_docs(folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    for i in range(files):
        text = "\n\n".join(
            f"Section {j} of note {i}: to rotate key {i}-{j}, open Settings, then Keys, and press Rotate. "
            f"The audit log records who rotated it and when; old keys stop working after {j + 1} hours."
            for j in range(5)
        )
        (folder / f"note-{i:04d}.md").write_text(f"# Note {i}\n\n{text}\n", encoding="utf-8")


def measure(files: int, repeat: int) -> dict[str, Any]:
    from qwen3_rag.testing import write_tiny_checkpoints

    with tempfile.TemporaryDirectory(prefix="qwen3-rag-cli-cold-") as tmp:
        work = Path(tmp)
        paths = write_tiny_checkpoints(work / "models")
        _write_docs(work / "docs", files)
        store = ["--qdrant-path", str(work / "qdrant"), "--collection", "kb"]
        models = ["--embedding-model", str(paths["embedding"]), "--device", "cpu", "--dtype", "float32"]
        ingest = ["ingest", str(work / "docs"), *store, *models, "--no-progress", "--chunk-tokens", "64"]
        ingest_s = _cli(ingest, work)
        query = ["query", QUESTION, *store, "--reranker-model", str(paths["reranker"]), "--device", "cpu"]
        query += ["--dtype", "float32", "--no-progress"]
        rows = [
            _timed("qwen3-rag --help", [_cli(["--help"], work) for _ in range(repeat)]),
            _timed("qwen3-rag sources", [_cli(["sources", *store], work) for _ in range(repeat)]),
            _timed(
                "qwen3-rag remove FILE",
                [
                    _cli(["remove", str(work / "docs" / f"note-{i:04d}.md"), *store], work)
                    for i in range(repeat)
                ],
            ),
            _timed(
                "qwen3-rag query (no such collection)",
                [
                    _cli(["query", "q", "--qdrant-path", str(work / "qdrant"), "--collection", "nope"], work)
                    for _ in range(repeat)
                ],
            ),
            _timed("qwen3-rag query (models in-process)", [_cli(query, work) for _ in range(repeat)]),
        ]
        phases_done = subprocess.run(
            [
                sys.executable,
                "-c",
                PHASES,
                "query",
                QUESTION,
                *store,
                "--reranker-model",
                str(paths["reranker"]),
            ],
            cwd=work,
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        phases = json.loads(phases_done.stdout.strip().splitlines()[-1])
        server, url = _start_server(paths, work)
        try:
            served = ["query", QUESTION, *store, "--server", url, "--no-progress"]
            _cli(served, work)  # warm the server (first forward passes, tokenizer route)
            rows.append(
                _timed(
                    "qwen3-rag query --server URL (warm server)", [_cli(served, work) for _ in range(repeat)]
                )
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
        count = json.loads(
            subprocess.run(
                [sys.executable, "-m", "qwen3_rag", "sources", "--json", *store],
                env=_env(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        chunks = sum(s["chunks"] for s in count["sources"])
    return {"files": files, "chunks": chunks, "ingest_s": ingest_s, "rows": rows, "query_phases": phases}


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("cli_cold", __doc__)
    parser.add_argument("--files", type=int, default=200, help="markdown files to ingest (5 chunks each)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (the median is reported)")
    args = parser.parse_args(argv)
    suite = SuiteRun("cli_cold", argv)
    suite.write(args.json, **measure(args.files, args.repeat), repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
