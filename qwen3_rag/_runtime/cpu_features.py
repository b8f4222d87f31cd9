"""What this CPU says it can do natively: whether it has bfloat16 instructions (for reports).

Not what ``dtype="auto"`` goes by: a flag is not a measurement (an Intel Xeon with ``avx512_bf16``
ran bf16 at 0.6x float32), so ``auto`` times the kernels (:mod:`.cpu_choice`).

Native bfloat16 means an x86 CPU with ``avx512_bf16`` (AVX-512 BF16: Intel Cooper Lake and
Sapphire Rapids and later, AMD Zen 4 and later) or ``amx_bf16`` (Intel AMX). There oneDNN runs
bf16 matmuls with the CPU's own bf16 dot products; elsewhere bf16 is emulated and slower than
float32 (measured: 1.15x slower with AVX-512 but no BF16, 3.7x slower with AVX2 only; see
docs/benchmarks.md, "CPU dtypes and int8").

``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` is *not* this test: it is true on any CPU with
AVX-512 BW/VL/DQ, where bf16 is emulated.
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

_NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def _torch_says_avx512_bf16() -> bool | None:
    """torch's own cpuinfo answer (a private helper: ``None`` where this torch lacks it)."""
    try:
        import torch

        check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        if check is None:
            return None
        return bool(check()) or bool(amx is not None and amx())
    except Exception:  # a capability probe must never break loading
        return None


@functools.lru_cache(maxsize=1)
def has_native_bf16() -> bool:
    """Whether this CPU's flags say native bfloat16 matmuls (x86 ``avx512_bf16`` or ``amx_bf16``)."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        return False  # ARM bf16 (e.g. Graviton 3) runs through other kernels: not measured here
    flags = cpu_flags()
    if flags:
        return bool(flags & _NATIVE_BF16_FLAGS)
    return bool(_torch_says_avx512_bf16())
