"""Where a suite ran, as every suite's JSON records it and the report shows under its tables: the
CPU, the flags that matter for the kernels, and the ISA and matmul kernels oneDNN reports with
``ONEDNN_VERBOSE=1`` (float32 ``nn.Linear`` runs on MKL, so its probe calls oneDNN directly)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any

import torch

from qwen3_rag._runtime.cpu_choice import cpu_model

from .procfs import proc_mb

FLAGS = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile"]
FLAGS += ["amx_bf16", "amx_int8"]
_PROBE = """import torch
w = torch.randn(512, 256); x = torch.randn(64, 256)
torch._C._nn.mkldnn_linear(x.to_mkldnn(), w.to_mkldnn(), None)
torch.nn.functional.linear(x.bfloat16(), w.bfloat16())"""


def onednn_verbose() -> dict[str, str]:
    """oneDNN's ISA line and the implementation its float32 and bfloat16 matmuls got."""
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    found: dict[str, str] = {}
    for line in out.stdout.splitlines():
        what = [*line.split(","), *[""] * 7][2:7]  # e.g. onednn_verbose,time,primitive,exec,cpu,matmul,impl
        if what[:2] == ["info", "cpu"] and what[2].startswith("isa:"):
            found["isa"] = what[2].removeprefix("isa:")
        elif what[:2] == ["primitive", "exec"] and what[3] in ("inner_product", "matmul"):
            kind = "bfloat16" if "bf16" in line.split("src:", 1)[-1][:8] else "float32"
            found.setdefault(f"{kind}_impl", what[4])
    return found


def describe_host() -> dict[str, Any]:
    from qwen3_rag._runtime.cpu_features import cpu_flags

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "flags": [flag for flag in FLAGS if flag in cpu_flags()],
        "onednn": onednn_verbose() if torch.backends.mkldnn.is_available() else {},
    }


def host_line(host: dict[str, Any] | None, machine: Any = None) -> str:
    """One markdown line for under a table; ``machine``: what a JSON from before the host record
    (issue 25) says about its CPU, if anything."""
    if not host:
        cpu = machine.get("cpu") if isinstance(machine, dict) else machine
        return (
            f"Host: {f'its JSON names the CPU: {cpu}; ' if cpu else ''}the flags and the ISA oneDNN used "
            "were not recorded by this run (it predates the host record, issue 25); the sections run "
            "since name them here."
        )
    onednn = host.get("onednn") or {}
    impls = ", ".join(f"{k.removesuffix('_impl')} `{v}`" for k, v in onednn.items() if k.endswith("_impl"))
    return (
        f"Host: {host['cpu']}, {host['cores']} cores, {host['threads']} torch threads, torch "
        f"{host['torch']} ({host['torch_capability']}); flags: {', '.join(host['flags']) or 'none of note'}; "
        f"oneDNN ISA: {onednn.get('isa', 'not reported')}"
        + (f"; oneDNN matmuls: {impls}" if impls else "")
        + "."
    )


def machine() -> dict[str, str]:
    """The machine a suite ran on, as its JSON records it (``"machine"``)."""
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{proc_mb('MemTotal', '/proc/meminfo') / 1024:.0f} GiB",
        "torch threads": str(torch.get_num_threads()),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` ("not installed" for a missing one)."""
    found = dict.fromkeys(names, "not installed")
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found
