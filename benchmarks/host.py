"""Where a suite ran: the CPU model, the flags that matter for the kernels, and what oneDNN used.

``describe_host()`` is recorded in every suite's JSON (``"host"``) and rendered under every table
of docs/benchmarks.md. oneDNN's own words come from a child process run with ``ONEDNN_VERBOSE=1``
that runs one float32 oneDNN linear and one bfloat16 ``nn.Linear``: the ISA it dispatched for
(``isa:``) and the implementation each matmul got (e.g. ``brg_matmul:avx512_core_bf16``). float32
``nn.Linear`` runs through MKL, not oneDNN, so it prints nothing there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import torch

FLAGS_THAT_MATTER = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)

_PROBE = """
import torch
w = torch.randn(512, 256); x = torch.randn(64, 256)
torch._C._nn.mkldnn_linear(x.to_mkldnn(), w.to_mkldnn(), None)
torch.nn.functional.linear(x.bfloat16(), w.bfloat16())
"""


def onednn_verbose() -> dict[str, str]:
    """oneDNN's ISA line and the implementation of a float32 and a bfloat16 matmul."""
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"error": str(exc)}
    found: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split(",")
        if len(parts) > 4 and parts[2] == "info" and parts[3] == "cpu" and parts[4].startswith("isa:"):
            found["isa"] = parts[4].removeprefix("isa:")
        if (
            len(parts) > 6
            and parts[2] == "primitive"
            and parts[3] == "exec"
            and parts[5]
            in (
                "inner_product",
                "matmul",
            )
        ):
            kind = "bfloat16" if "bf16" in line.split("src:", 1)[-1][:8] else "float32"
            found.setdefault(f"{kind}_impl", parts[6])
    return found


def cpu_model() -> str:
    from qwen3_rag._runtime.cpu_choice import cpu_model as model

    return model()


def describe_host() -> dict[str, Any]:
    """CPU model, cores, threads, torch, the flags that matter, and oneDNN's ISA and kernels."""
    from qwen3_rag._runtime.cpu_features import cpu_flags

    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "flags": [f for f in FLAGS_THAT_MATTER if f in flags],
        "onednn": onednn_verbose() if torch.backends.mkldnn.is_available() else {},
    }


def host_line(host: dict[str, Any] | None, machine: Any = None) -> str:
    """One markdown line for under a table (``host`` as :func:`describe_host` recorded it;
    ``machine``: what a JSON from before the host record says about its CPU, if anything)."""
    if not host:
        cpu = machine.get("cpu") if isinstance(machine, dict) else machine
        said = f"its JSON names the CPU: {cpu}; " if cpu else ""
        return (
            f"Host: {said}the flags and the ISA oneDNN used were not recorded by this run (it predates "
            "the host record, issue 25); the sections run since name them here."
        )
    onednn = host.get("onednn") or {}
    isa = onednn.get("isa", "not reported")
    impls = ", ".join(f"{k.removesuffix('_impl')} `{v}`" for k, v in onednn.items() if k.endswith("_impl"))
    return (
        f"Host: {host.get('cpu')}, {host.get('cores')} cores, {host.get('threads')} torch threads, "
        f"torch {host.get('torch')} ({host.get('torch_capability')}); flags: "
        f"{', '.join(host.get('flags') or []) or 'none of note'}; oneDNN ISA: {isa}"
        + (f"; oneDNN matmuls: {impls}" if impls else "")
        + "."
    )


def machine() -> dict[str, str]:
    """The machine a suite ran on, as its JSON records it (``"machine"``)."""
    import platform

    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:  # psutil is in the bench extra
        memory = ""
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": memory,
        "torch threads": str(torch.get_num_threads()),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(*names: str) -> dict[str, str]:
    """Installed versions of ``names`` ("not installed" for a missing one)."""
    from importlib import metadata

    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
