"""The line protocol between ``benchmarks/peers.py`` and one engine process (standard library only).

Each engine script (``qwen3_offline.py``, ``vllm_offline.py``, ``infinity_offline.py``) loads its
model, warms it up, then calls :func:`serve`: it prints ``@@peer ready LOAD_S`` and waits on its
standard input. Every ``run`` line times one call of the workload and prints ``@@peer done S``;
``quit`` (or the end of the input) writes OUT (load time, every call's seconds, the last call's
result) and prints ``@@peer written``. The engines' own log lines share standard output; the
``@@peer`` marker tells the protocol's lines apart.

Keeping every engine's process alive between calls lets peers.py interleave the engines call by
call (qwen3-rag, vLLM, Infinity, qwen3-rag, ...), so on a machine shared with other work each
engine's best call comes from the same stretch of time as the others'.

This file is imported by scripts that run in other virtual environments (vLLM's, Infinity's),
so it uses nothing but the standard library and never imports the ``benchmarks`` package.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

MARK = "@@peer "


def serve(
    call: Callable[[], Any],
    load_s: float,
    out_path: str,
    info: dict[str, Any],
    threads: Callable[[int], None] | None = None,
) -> None:
    """Answer ``run`` lines with one timed ``call()`` each until ``quit``; then write ``out_path``.

    ``run N`` first calls ``threads(N)`` (an engine that can change its thread count between calls
    says so by passing ``threads``), so one process can be timed at two thread counts.
    """
    print(f"{MARK}ready {load_s}", flush=True)
    times: list[float] = []
    result: Any = None
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "run":
            if argument and threads is not None:
                threads(int(argument))
            start = time.perf_counter()
            result = call()
            seconds = time.perf_counter() - start
            times.append(seconds)
            print(f"{MARK}done {seconds}", flush=True)
        elif command == "quit":
            break
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump({"load_s": load_s, "seconds": times, "result": result, **info}, handle)
    print(f"{MARK}written", flush=True)
