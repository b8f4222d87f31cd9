"""What ``dtype="auto"`` runs on CPU, decided by measurement and remembered per machine.

A CPU flag is not a measurement: bf16 ran 3.2x float32 on this project's AMD EPYC and 0.6x on an
Intel Xeon with the same ``avx512_bf16`` flag. So the first CPU load with ``dtype="auto"`` times
the kernels on the model's own layer shapes (:mod:`.cpu_probe`, under a second), picks one, and
writes the decision to a small JSON file keyed by the CPU model, core count, torch threads, torch
version and layer shape; later loads (in any process) read it and pay nothing.

The rule: every candidate's accuracy is stated (float32 is the reference; float32 on oneDNN
matches it to 1e-5; bfloat16 keeps min cosine ~0.9999 to float32, docs/benchmarks.md). float32
wins ties: bfloat16 is picked only when it is at least :data:`MARGIN` faster than the faster
float32 kernel, and float32 on oneDNN only when it is at least :data:`MARGIN` faster than
``nn.Linear``. So ``auto`` is never slower than 1/MARGIN (0.91x) of the fastest one probed.

``QWEN3_RAG_CPU_DTYPE`` forces a kernel (``float32``, ``float32-onednn``, ``bfloat16``);
``QWEN3_RAG_CACHE_DIR`` moves the cache file (default ``$XDG_CACHE_HOME/qwen3-rag``, else
``~/.cache/qwen3-rag``). An explicit ``dtype=`` never comes here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .._environment import QWEN3_RAG_CACHE_DIR, QWEN3_RAG_CPU_DTYPE
from .._errors import InvalidOptionError
from .cpu_probe import LayerShape, Measure, ProbeResult, candidate_kernels, time_kernels
from .packing import KERNELS, Kernel

logger = logging.getLogger("qwen3_rag._runtime.loading")

ENV_FORCE = QWEN3_RAG_CPU_DTYPE.name
ENV_CACHE_DIR = QWEN3_RAG_CACHE_DIR.name
CACHE_FILE = "cpu-kernels.json"
MARGIN = 1.1
_FORMAT = 1

_LOCK = threading.Lock()  # one probe at a time: two at once would time each other
_MEMO: dict[str, CpuChoice] = {}


@dataclass(frozen=True)
class CpuChoice:
    """The kernel ``dtype="auto"`` runs on this CPU, and why."""

    kernel: Kernel
    how: str  # "measured", "cached" or "forced"
    seconds: dict[str, float] = field(default_factory=dict)  # median seconds per probe pass
    probe_s: float = 0.0  # what this load paid for the decision
    measured_at: str = ""
    cache_file: str | None = None

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.kernel == "bfloat16" else torch.float32

    @property
    def speedups(self) -> dict[str, float]:
        """Each kernel's speed relative to float32 ``nn.Linear`` (``> 1``: faster)."""
        base = self.seconds.get("float32")
        return {k: base / s for k, s in self.seconds.items() if base and s > 0}

    def explain(self) -> str:
        """One line: what was chosen and why."""
        if self.how == "forced":
            return f"dtype='auto' on CPU: {self.kernel} (forced by {ENV_FORCE}={self.kernel})"
        measured = ", ".join(
            f"{kernel} {ratio:.2f}x" for kernel, ratio in self.speedups.items() if kernel != "float32"
        )
        when = (
            f"probed in {self.probe_s:.2f} s"
            if self.how == "measured"
            else f"measured {self.measured_at}, read from {self.cache_file}"
        )
        return (
            f"dtype='auto' on CPU: {self.kernel} (this model's layer shapes vs float32 nn.Linear: "
            f"{measured}; bfloat16 or oneDNN need {MARGIN:.1f}x to be picked; {when}; "
            f"{ENV_FORCE} forces a choice)"
        )


def decide(seconds: dict[str, float]) -> Kernel:
    """The kernel these median timings pick (see the module docstring for the rule)."""
    if "float32" not in seconds:
        raise ValueError("the float32 timing is needed: it is the reference every other kernel must beat")
    best32: Kernel = "float32"
    onednn = seconds.get("float32-onednn")
    if onednn is not None and seconds["float32"] >= MARGIN * onednn:
        best32 = "float32-onednn"
    bf16 = seconds.get("bfloat16")
    if bf16 is not None and seconds[best32] >= MARGIN * bf16:
        return "bfloat16"
    return best32


def cache_dir() -> Path:
    explicit = QWEN3_RAG_CACHE_DIR.get()
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "qwen3-rag")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key(shape: LayerShape) -> str:
    """What a decision is valid for: this CPU, its cores and threads, this torch, this shape."""
    return (
        f"{cpu_model()} | {os.cpu_count()} cores | {torch.get_num_threads()} threads | "
        f"torch {torch.__version__} | layer {shape.label}"
    )


def forced_kernel() -> Kernel | None:
    value = QWEN3_RAG_CPU_DTYPE.get()
    if value in ("", "measure", "auto"):
        return None
    aliases: dict[str, Kernel] = {"fp32": "float32", "bf16": "bfloat16", "fp32-onednn": "float32-onednn"}
    kernel = aliases.get(value, value)
    if kernel not in KERNELS:
        raise InvalidOptionError(
            f"{ENV_FORCE}={value!r} is not a CPU kernel; valid: {', '.join(KERNELS)}, or unset it "
            "(or 'measure') to let dtype='auto' measure."
        )
    if kernel not in candidate_kernels():
        raise InvalidOptionError(
            f"{ENV_FORCE}={value!r}, but this torch build has no oneDNN; use float32 or bfloat16."
        )
    return kernel


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    if not isinstance(data.get("entries"), dict):
        return {}
    return data


def _write(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Add ``entry`` to the cache file, atomically; a cache that cannot be written is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read(path) or {"format": _FORMAT, "entries": {}}
        data["entries"][key] = entry
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        logger.warning("qwen3-rag: the CPU kernel decision could not be cached in %s: %s", path, exc)


def _from_entry(entry: Any, path: Path) -> CpuChoice | None:
    try:
        kernel = entry["kernel"]
        seconds = {str(k): float(v) for k, v in entry["seconds"].items()}
        if kernel not in candidate_kernels():
            return None
        return CpuChoice(kernel, "cached", seconds, 0.0, str(entry.get("measured_at", "")), str(path))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def choose(shape: LayerShape, *, measure: Measure | None = None) -> CpuChoice:
    """The kernel for ``dtype="auto"`` on CPU: forced, remembered, or measured now (and remembered)."""
    forced = forced_kernel()
    if forced is not None:
        return CpuChoice(forced, "forced")
    key = machine_key(shape)
    path = cache_dir() / CACHE_FILE
    with _LOCK:
        memo = _MEMO.get(f"{path}|{key}")
        if memo is not None:  # decided earlier in this process: costs nothing now
            return replace(memo, how="cached", probe_s=0.0)
        cached = _from_entry(_read(path).get("entries", {}).get(key), path)
        if cached is not None:
            _MEMO[f"{path}|{key}"] = cached
            return cached
        result: ProbeResult = (measure or time_kernels)(shape)
        kernel = decide(result.seconds)
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        choice = CpuChoice(kernel, "measured", dict(result.seconds), result.cost_s, now, str(path))
        _write(
            path,
            key,
            {
                "kernel": kernel,
                "seconds": result.seconds,
                "rows": result.rows,
                "rounds": result.rounds,
                "probe_s": result.cost_s,
                "measured_at": now,
                "load_average": _load_average(),
            },
        )
        _MEMO[f"{path}|{key}"] = choice
        return choice


def forget() -> None:
    """Drop this process's memo of decisions (tests; the cache file stays)."""
    with _LOCK:
        _MEMO.clear()


def _load_average() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except (OSError, AttributeError):
        return None
