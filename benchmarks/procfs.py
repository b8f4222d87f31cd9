"""Memory figures from Linux's /proc (standard library only: a measured child imports it first)."""

from __future__ import annotations

from pathlib import Path


def proc_mb(field: str, path: str = "/proc/self/status", missing: float = float("nan")) -> float:
    """The ``FIELD:  N kB`` line of a /proc file in MiB (``missing`` where there is none)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return missing
