"""Peers (issue 13 §3): qwen3-rag vs vLLM CPU (offline API) vs Infinity, same weights, texts, dtype.

``python -m benchmarks.peers`` (default: the real 0.6B shape with random weights, the real Qwen3
tokenizer, mixed-length standard-library passages) measures, per dtype (float32, bfloat16):

- embedding the corpus: qwen3-rag ``Qwen3Embedder.embed_documents(docs)`` in this process; vLLM
  ``LLM(..., runner="pooling", convert="embed").embed(texts)``; Infinity ``embed(sentences=...)``;
- reranking ``--queries`` x ``--per-query`` pairs: qwen3-rag's concurrent ``ascore`` calls (one per
  query, the micro-batcher coalesces them); vLLM ``LLM.score(queries, documents)`` with the Qwen3
  reranker conversion (``hf_overrides``) and the template split where vLLM joins the pair;
  Infinity ``classify`` on a two-label (no/yes) sequence-classification conversion, whole prompt.

vLLM and Infinity run in their own environments (``.venv-vllm`` from ``bash .ci/setup-vllm``,
``.venv-infinity`` from ``bash .ci/setup-infinity``), as subprocesses running
``benchmarks/vllm_offline.py`` / ``benchmarks/infinity_offline.py``; model loading is outside the
timings (reported apart). Every result is compared with qwen3-rag's at the same dtype (max abs
difference) and, for bfloat16, with qwen3-rag float32. Each timing is the best of ``--repeat``
calls after a warm-up call.

Also measured: the matmul peak of each dtype at the model's biggest matmul shape (before and after
the runs, best kept), so each engine's embedding throughput is also a share of the peak.

Writes JSON (``--json``); ``benchmarks/report.py`` renders it in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qwen3_rag._environment import QWEN3_RAG_INFINITY_VENV, QWEN3_RAG_VLLM_VENV
from qwen3_rag.testing_reference import PREFIX, SUFFIX, WEB_SEARCH

from .checkpoints import Shape, load_fast_tokenizer, suite_checkpoints
from .common import SuiteRun, corpus_from_args, corpus_options, quiet_offline, suite_parser
from .corpus import Corpus
from .host import describe_host
from .peer_protocol import MARK
from .procfs import proc_mb

ROOT = Path(__file__).resolve().parent.parent
DTYPES = ("float32", "bfloat16")
ENGINES = ("qwen3-rag", "qwen3-rag-1t", "vllm", "infinity")
ENGINE_NAMES = {
    "qwen3-rag": "qwen3-rag",
    "qwen3-rag-1t": "qwen3-rag, 1 thread",
    "vllm": "vLLM CPU offline",
    "infinity": "Infinity",
}


# ----------------------------------------------------------------------------- results
@dataclass
class PeerRun:
    """One engine, one task, one dtype."""

    engine: str
    task: str  # "embedding" or "reranking"
    dtype: str
    items: int
    tokens: int
    seconds: float | None = None  # best timed call; None when it did not run
    all_seconds: list[float] = field(default_factory=list)
    load_s: float | None = None
    max_abs_diff: float | None = None  # vs qwen3-rag at the same dtype
    max_abs_diff_fp32: float | None = None  # vs qwen3-rag float32
    min_cosine_fp32: float | None = None  # embedding: vs qwen3-rag float32
    how: str = ""
    error: str = ""

    @property
    def items_per_s(self) -> float | None:
        return None if not self.seconds else self.items / self.seconds

    @property
    def tokens_per_s(self) -> float | None:
        return None if not self.seconds else self.tokens / self.seconds


# ----------------------------------------------------------------------------- workload
@dataclass
class Workload:
    corpus: Corpus
    documents: list[str]
    document_tokens: int  # with the one end token each
    pairs: list[tuple[str, str]]  # (query, document), grouped by query
    per_query: int
    rerank_tokens: int
    instruction: str


def build_workload(args: argparse.Namespace) -> Workload:
    tokenizer = load_fast_tokenizer()
    corpus = corpus_from_args(args)
    prefix, suffix, instruction = PREFIX, SUFFIX, WEB_SEARCH
    docs = corpus.documents
    pairs = [
        (corpus.queries[q], docs[(q * args.per_query + i) % len(docs)])
        for q in range(args.queries)
        for i in range(args.per_query)
    ]
    prompts = [prefix + _body(q, d, instruction) + suffix for q, d in pairs]
    rerank_tokens = sum(len(e.ids) for e in tokenizer.encode_batch(prompts, add_special_tokens=False))
    return Workload(
        corpus,
        docs,
        sum(corpus.document_tokens) + len(docs),
        pairs,
        args.per_query,
        rerank_tokens,
        instruction,
    )


def _body(query: str, document: str, instruction: str) -> str:
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"


def _by_query(work: Workload) -> list[tuple[str, list[str]]]:
    groups: list[tuple[str, list[str]]] = []
    for start in range(0, len(work.pairs), work.per_query):
        chunk = work.pairs[start : start + work.per_query]
        groups.append((chunk[0][0], [d for _, d in chunk]))
    return groups


# ----------------------------------------------------------------------------- environments
def venv_python(name: str) -> Path | None:
    """The interpreter of ``.venv-vllm`` / ``.venv-infinity`` (``$QWEN3_RAG_VLLM_VENV`` /
    ``$QWEN3_RAG_INFINITY_VENV`` point elsewhere), or ``None`` when it was not built."""
    variable = {"vllm": QWEN3_RAG_VLLM_VENV, "infinity": QWEN3_RAG_INFINITY_VENV}[name]
    venv = Path(variable.get() or ROOT / f".venv-{name}")
    python = venv / "bin" / "python"
    return python if python.is_file() and os.access(python, os.X_OK) else None


def venv_versions(python: Path, packages: tuple[str, ...]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: out[name] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", code, *packages], capture_output=True, text=True, timeout=60, check=True
        )
        return dict(json.loads(done.stdout))
    except (subprocess.SubprocessError, OSError, ValueError):
        return {}


class EngineWorker:
    """One engine's process, driven through ``benchmarks/peer_protocol.py``.

    ``benchmarks/<engine>_offline.py`` loads the model and warms up; then each :meth:`run` times
    one call there. Its output (the engine's logs and the protocol's lines) is drained by a thread
    into a log file, so a chatty engine never blocks on a full pipe.
    """

    def __init__(
        self,
        engine: str,
        python: Path,
        job: dict[str, Any],
        logs: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        tag = f"{engine}-{job['kind']}-{job['dtype']}"
        self.job_path, self.out_path, self.log_path = (
            logs / f"{tag}.{ext}" for ext in ("job.json", "out.json", "log")
        )
        self.job_path.write_text(json.dumps(job), encoding="utf-8")
        self.out_path.unlink(missing_ok=True)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "INFINITY_ANONYMOUS_USAGE_STATS": "0",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        if engine.startswith("qwen3-rag"):  # this environment, from the repository root
            argv, cwd = [str(python), "-m", "benchmarks.qwen3_offline"], ROOT
        else:  # its own environment: nothing of this one may leak into it
            for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
                env.pop(key, None)
            script = ROOT / "benchmarks" / f"{engine}_offline.py"
            argv, cwd = [str(python), str(script)], logs
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [*argv, str(self.job_path), str(self.out_path)],
            cwd=str(cwd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        with self.log_path.open("w", encoding="utf-8") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if line.startswith(MARK):
                    self.lines.put(line[len(MARK) :].strip())
        self.lines.put(None)  # the process closed its output: it ended

    def _expect(self, word: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.engine}: no '{word}' after {timeout_s:.0f} s; {self.tail()}")
            try:
                line = self.lines.get(timeout=min(left, 5.0))
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait(timeout=30)
                raise RuntimeError(f"{self.engine} exited with {code} before '{word}'; {self.tail()}")
            if line.startswith(word):
                return line[len(word) :].strip()

    def tail(self, chars: int = 1500) -> str:
        try:
            return "log tail: " + self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "no log"

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def ready(self, timeout_s: float) -> float:
        """Seconds the engine took to load its model (the warm-up call not included)."""
        return float(self._expect("ready", timeout_s))

    def run(self, timeout_s: float, argument: str = "") -> float:
        """One timed call (``argument``: the thread count, for an engine that takes one)."""
        self.send(f"run {argument}".strip())
        return float(self._expect("done", timeout_s))

    def finish(self, timeout_s: float) -> dict[str, Any]:
        """Ask for the results (every call's seconds, the last call's output) and end."""
        self.send("quit")
        self._expect("written", timeout_s)
        result: dict[str, Any] = json.loads(self.out_path.read_text(encoding="utf-8"))
        if self.engine == "vllm":  # the cores its worker was bound to (it reserves some for its scheduler)
            text = self.log_path.read_text(errors="replace")
            result["omp_binding"] = dict(re.findall(r"(core ids|reserved_cpus)=(\[[^\]]*\])", text))
        return result

    def stop(self) -> None:
        """End the process group (vLLM's engine core and workers are children); idempotent."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)


# ----------------------------------------------------------------------------- Infinity folders
def infinity_folders(paths: dict[str, str], shape: Shape) -> dict[str, str]:
    """Folders Infinity loads the same weights from, next to the benchmark checkpoints.

    - embedding: the checkpoint's files (weights hard-linked) plus sentence-transformers' module
      files as the published Qwen3-Embedding ships them (Transformer, Pooling with
      ``pooling_mode_lasttoken``, Normalize), so Infinity's "auto" pooling is last-token;
    - reranker: a two-label sequence-classification conversion (``score.weight`` = the LM head's
      "no" and "yes" rows, kept in float32; labels ``no``/``yes``). Infinity serves a two-label
      classifier through ``classify`` (transformers' text-classification pipeline, softmax over the
      labels), which is the official ``P(yes) = softmax(no, yes)[yes]``. A one-label conversion
      would be served through ``rerank`` instead, which strips both texts (see the report).

    Both configs also get ``rope_theta`` at its top level: Infinity's transformers (4.x) does not
    read the ``rope_parameters`` that transformers 5 writes, and would fall back to 10,000.
    """
    out = {}
    for kind in ("embedding", "reranker"):
        source = Path(paths[kind])
        target = source.parent / f"infinity-{kind}"
        marker = target / "bench-source.json"
        stamp = json.dumps({"source": str(source), "shape": asdict(shape), "version": 2}, sort_keys=True)
        if not (marker.is_file() and marker.read_text() == stamp):
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            if kind == "embedding":
                _infinity_embedding(source, target, shape)
            else:
                _infinity_reranker(source, target)
            marker.write_text(stamp)
        out[kind] = str(target)
    return out


def _copy_tokenizer(source: Path, target: Path) -> None:
    for path in source.iterdir():
        if path.is_file() and path.name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            shutil.copyfile(path, target / path.name)


def _config_for_transformers4(config: dict[str, Any]) -> dict[str, Any]:
    rope = config.get("rope_parameters") or {}
    if "rope_theta" in rope:
        config["rope_theta"] = rope["rope_theta"]
    config.setdefault("torch_dtype", config.get("dtype", "bfloat16"))
    return config


def _infinity_embedding(source: Path, target: Path, shape: Shape) -> None:
    _copy_tokenizer(source, target)
    for path in source.glob("*.safetensors"):
        try:
            os.link(path, target / path.name)
        except OSError:
            shutil.copyfile(path, target / path.name)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    (target / "config.json").write_text(json.dumps(_config_for_transformers4(config), indent=2))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (target / "modules.json").write_text(json.dumps(modules, indent=2))
    (target / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 8192, "do_lower_case": False})
    )
    (target / "1_Pooling").mkdir()
    pooling = {
        "word_embedding_dimension": shape.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": True,
        "include_prompt": True,
    }
    (target / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))
    (target / "2_Normalize").mkdir()


def _infinity_reranker(source: Path, target: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    _copy_tokenizer(source, target)
    tokenizer = AutoTokenizer.from_pretrained(source)
    yes, no = (int(tokenizer.convert_tokens_to_ids(t)) for t in ("yes", "no"))  # type: ignore[arg-type]
    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(source.glob("*.safetensors")):
        tensors.update(load_file(str(path)))
    head = tensors.pop("lm_head.weight", None)
    rows = head if head is not None else tensors["model.embed_tokens.weight"]  # tied weights
    tensors["score.weight"] = torch.stack([rows[no].float(), rows[yes].float()]).contiguous()
    save_file(tensors, str(target / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config.update(
        architectures=["Qwen3ForSequenceClassification"],
        num_labels=2,
        id2label={"0": "no", "1": "yes"},
        label2id={"no": 0, "yes": 1},
        tie_word_embeddings=False,
    )
    (target / "config.json").write_text(json.dumps(_config_for_transformers4(config), indent=2))


# ----------------------------------------------------------------------------- the run
def _memory_need_mb(shape: Shape, dtype: str, engine: str) -> float:
    """A generous estimate of one engine process's memory (weights twice over, runtime, KV cache)."""
    params = shape.body_params() + shape.vocab * shape.hidden
    weights_mb = params * (4 if dtype == "float32" else 2) / 2**20
    return 1.5 * weights_mb + 800 + (1024 if engine == "vllm" else 0)


def _available_mb() -> float | None:
    available = proc_mb("MemAvailable", "/proc/meminfo", missing=-1)
    return None if available < 0 else available


def _wait_for_memory(need_mb: float, log: Any, margin_mb: float = 2048, wait_s: float = 120) -> bool:
    """Wait (up to ``wait_s``) until ``need_mb`` + a margin is free: the machine is shared."""
    deadline = time.monotonic() + wait_s
    while True:
        available = _available_mb()
        if available is None or available >= need_mb + margin_mb:
            return True
        if time.monotonic() > deadline:
            return False
        log(f"waiting for memory: {available:,.0f} MiB available, {need_mb + margin_mb:,.0f} wanted")
        time.sleep(10)


def _job(ctx: GroupContext, engine: str, task: str, dtype: str) -> tuple[dict[str, Any], str]:
    """The job one engine process gets (same texts for all), and how it is called."""
    work, groups, prefix, suffix = ctx.work, ctx.groups, PREFIX, SUFFIX
    kind = "embedding" if task == "embedding" else "reranker"
    job: dict[str, Any] = {"kind": kind, "dtype": dtype}
    job["model"] = ctx.infinity_paths[kind] if engine == "infinity" else ctx.paths[kind]
    if engine == "qwen3-rag-1t":  # qwen3-rag on one core, as vLLM's worker is by default
        job["threads"] = 1
    if task == "embedding":
        job["texts"] = work.documents
        how = {
            "qwen3-rag": "embed_documents(texts)",
            "qwen3-rag-1t": "embed_documents(texts), torch.set_num_threads(1)",
            "vllm": "LLM.embed(texts)",
            "infinity": "embed(sentences=texts)",
        }[engine]
    elif engine.startswith("qwen3-rag"):
        job["groups"] = groups
        how = f"{len(groups)} concurrent ascore(query, documents) calls"
        if engine == "qwen3-rag-1t":
            how += ", torch.set_num_threads(1)"
    elif engine == "vllm":
        job["queries"] = [f"{prefix}<Instruct>: {work.instruction}\n<Query>: {q}\n" for q, _ in work.pairs]
        job["documents"] = [f"<Document>: {d}{suffix}" for _, d in work.pairs]
        how = "LLM.score(queries, documents), all pairs in one call"
    else:
        job["prompts"] = [prefix + _body(q, d, work.instruction) + suffix for q, d in work.pairs]
        job["batch_size"] = 32
        how = "classify(sentences=prompts), two-label no/yes conversion"
    return job, how


def compare(runs: list[PeerRun], outputs: dict[tuple[str, str, str], np.ndarray]) -> None:
    """Fill the accuracy columns: each run against qwen3-rag (same dtype, and float32)."""
    for run in runs:
        mine = outputs.get((run.engine, run.task, run.dtype))
        if mine is None:
            continue
        same = outputs.get(("qwen3-rag", run.task, run.dtype))
        fp32 = outputs.get(("qwen3-rag", run.task, "float32"))
        if same is not None and run.engine != "qwen3-rag":  # (qwen3-rag-1t: should be ~0)
            run.max_abs_diff = float(np.abs(mine - same).max())
        if fp32 is not None and (run.engine != "qwen3-rag" or run.dtype != "float32"):
            run.max_abs_diff_fp32 = float(np.abs(mine - fp32).max())
            if run.task == "embedding":
                run.min_cosine_fp32 = float(np.min(np.sum(mine * fp32, axis=1)))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = suite_parser("peers", __doc__, shape="0.6b")
    corpus_options(parser, documents=64, max_tokens=256, queries=4, per_query=8)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds: timed calls per engine after its warm-up (best kept)"
    )
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument(
        "--vllm-reserved-cpus",
        type=int,
        help="VLLM_CPU_NUM_OF_RESERVED_CPU for vLLM (default: vLLM's own, one core for its scheduler)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed for an engine to load, or for one call"
    )
    return parser.parse_args(argv)


@dataclass
class GroupContext:
    """What every (task, dtype) group of a run shares."""

    args: argparse.Namespace
    shape: Shape
    work: Workload
    groups: list[tuple[str, list[str]]]
    paths: dict[str, str]
    infinity_paths: dict[str, str]
    logs: Path
    log: Any


def run_group(
    ctx: GroupContext,
    task: str,
    dtype: str,
    order: list[str],
    engines: dict[str, dict[str, Any]],
    pythons: dict[str, Path | None],
    items: dict[str, int],
    tokens: dict[str, int],
) -> tuple[list[PeerRun], dict[tuple[str, str, str], np.ndarray]]:
    """One (task, dtype): start every engine (one after another, nothing timed), then let them take
    turns, one timed call each per round, the order rotating; best call kept.

    qwen3-rag and qwen3-rag on one thread share one process (``run 1`` sets the thread count for
    that call): one 0.6B model in memory instead of two, on a machine shared with other work.
    """
    args, log = ctx.args, ctx.log
    runs: list[PeerRun] = []
    outputs: dict[tuple[str, str, str], np.ndarray] = {}
    workers: dict[str, EngineWorker] = {}  # by engine; "qwen3-rag-1t" uses "qwen3-rag"'s
    turns: dict[str, tuple[PeerRun, str]] = {}  # engine -> (its run, the argument of its "run")
    try:
        for engine in order:
            run = PeerRun(engine, task, dtype, items[task], tokens[task])
            runs.append(run)
            if not engines[engine]["available"]:
                run.error = engines[engine]["why"]
                continue
            job, run.how = _job(ctx, engine, task, dtype)
            if engine == "qwen3-rag-1t" and "qwen3-rag" in workers:
                turns[engine] = (run, "1")
                run.load_s = runs[0].load_s if runs[0].engine == "qwen3-rag" else None
                continue
            extra_env = {}
            if engine == "vllm" and args.vllm_reserved_cpus is not None:
                extra_env["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(args.vllm_reserved_cpus)
            python = pythons[engine]
            assert python is not None
            need_mb = _memory_need_mb(ctx.shape, dtype, engine)
            if not _wait_for_memory(need_mb, log):
                run.error = (
                    f"not started: less than {need_mb:,.0f} MiB of memory available on the shared "
                    "machine for 2 minutes"
                )
                log(f"{engine} {task} {dtype}: {run.error}")
                continue
            log(f"{engine} {task} {dtype}: loading ...")
            worker = EngineWorker(engine, python, job, ctx.logs, extra_env)
            workers[engine] = worker
            try:
                run.load_s = worker.ready(args.timeout)
                turns[engine] = (run, "2" if engine == "qwen3-rag" else "")
            except (TimeoutError, RuntimeError) as exc:
                run.error = str(exc)
                log(f"{engine} {task} {dtype} failed to start: {run.error[:300]}")
                worker.stop()
        for round_ in range(max(1, args.repeat)):
            turn = list(turns)
            turn = turn[round_ % len(turn) :] + turn[: round_ % len(turn)] if turn else turn
            for engine in turn:
                run, argument = turns[engine]
                if run.error:
                    continue
                worker = workers["qwen3-rag" if engine == "qwen3-rag-1t" else engine]
                try:
                    run.all_seconds.append(worker.run(args.timeout, argument))
                except (TimeoutError, RuntimeError, OSError) as exc:  # OSError: it died (broken pipe)
                    run.error = str(exc)
                    log(f"{engine} {task} {dtype} failed: {run.error[:300]}")
            done = [f"{e} {turns[e][0].all_seconds[-1]:.2f}s" for e in turn if turns[e][0].all_seconds]
            log(f"{task} {dtype} round {round_ + 1}: " + ", ".join(done))
        for engine, worker in workers.items():
            if engine not in turns or turns[engine][0].error:
                continue
            try:
                result = worker.finish(args.timeout)
            except (TimeoutError, RuntimeError, OSError, ValueError) as exc:
                turns[engine][0].error = str(exc)
                continue
            if "omp_binding" in result:
                engines[engine]["omp_binding"] = result["omp_binding"]
            engines[engine].setdefault("threads", result.get("torch_threads"))
            dtype_np = np.float32 if task == "embedding" else np.float64
            outputs[engine, task, dtype] = np.asarray(result["result"], dtype=dtype_np)
        for run, _ in turns.values():
            if run.all_seconds and not run.error:
                run.seconds = min(run.all_seconds)
    finally:
        for worker in workers.values():
            worker.stop()
    return runs, outputs


def main(argv: list[str] | None = None) -> int:
    quiet_offline()
    import torch

    from .hardware import corpus_flops, matmul_rates

    args = parse_args(argv)
    suite = SuiteRun("peers", argv)
    log = suite.log
    shape, paths = suite_checkpoints(args.shape, args.cache_dir)
    work = build_workload(args)
    logs = Path(tempfile.mkdtemp(prefix="qwen3-rag-peers-"))
    torch_dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    dims = (shape.hidden, shape.ffn)
    rates = {d: matmul_rates(*dims, dtype=torch_dtypes[d]) for d in args.dtypes}

    engines: dict[str, dict[str, Any]] = {}
    pythons: dict[str, Path | None] = {}
    for engine in ("vllm", "infinity"):
        if engine not in args.engines:
            continue
        python = venv_python(engine)
        pythons[engine] = python
        setup = f"bash .ci/setup-{engine}"
        if python is None:
            engines[engine] = {"available": False, "why": f"no .venv-{engine} (build it with `{setup}`)"}
        elif engine == "vllm" and shape.head_dim < 32:
            engines[engine] = {
                "available": False,
                "why": f"head_dim {shape.head_dim}: vLLM's CPU attention needs 32, 64, 80, 96, 112 or 128",
            }
        else:
            packages = ("vllm-cpu", "torch", "transformers") if engine == "vllm" else (
                "infinity-emb", "torch", "transformers", "sentence-transformers"
            )  # fmt: skip
            engines[engine] = {"available": True, "versions": venv_versions(python, packages)}
    infinity_paths: dict[str, str] = {}
    if engines.get("infinity", {}).get("available"):
        infinity_paths = infinity_folders(paths, shape)

    runs: list[PeerRun] = []
    outputs: dict[tuple[str, str, str], np.ndarray] = {}
    items = {"embedding": len(work.documents), "reranking": len(work.pairs)}
    tokens = {"embedding": work.document_tokens, "reranking": work.rerank_tokens}
    for engine in ("qwen3-rag", "qwen3-rag-1t"):
        pythons[engine] = Path(sys.executable)
        engines[engine] = {"available": True}
    groups = _by_query(work)
    order = [e for e in ENGINES if e in args.engines]
    context = GroupContext(args, shape, work, groups, paths, infinity_paths, logs, log)
    for dtype in args.dtypes:
        for task in ("embedding", "reranking"):
            group_runs, group_outputs = run_group(
                context, task, dtype, order, engines, pythons, items, tokens
            )
            runs += group_runs
            outputs.update(group_outputs)
    compare(runs, outputs)
    for d in args.dtypes:
        again = matmul_rates(*dims, dtype=torch_dtypes[d])
        rates[d] = {form: max(rates[d][form], again[form]) for form in again}
    peaks = {d: max(r.values()) for d, r in rates.items()}
    flops = corpus_flops(shape, work.corpus.document_tokens)
    runs_json = [
        {
            **asdict(r),
            "items_per_s": r.items_per_s,
            "tokens_per_s": r.tokens_per_s,
            "share_of_peak": flops / r.seconds / peaks[r.dtype]
            if r.task == "embedding" and r.seconds
            else None,
        }
        for r in runs
    ]
    for r in runs_json:
        status = "ok" if r["seconds"] else f"not run: {r['error'][:200]}"
        log(f"{r['engine']:10} {r['task']:10} {r['dtype']:9} {r['seconds'] or 0:7.2f}s {status}")
    suite.write(
        args.json,
        host=describe_host(),
        shape=asdict(shape),
        corpus=work.corpus.stats(),
        settings={
            "documents": len(work.documents),
            "queries": args.queries,
            "per_query": args.per_query,
            "repeat": args.repeat,
            "dtypes": args.dtypes,
            "threads": torch.get_num_threads(),
        },
        engines=engines,
        matmul_rates=rates,
        matmul_shape=[4096, *dims],
        peaks=peaks,
        corpus_flops=flops,
        runs=runs_json,
        notes=[],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
