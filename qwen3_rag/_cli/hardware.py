"""The hardware options every model-loading command takes: ``--device``, ``--dtype``,
``--quantize``, and ``--verbose`` (what the loads chose, e.g. the kernel ``dtype=auto`` measured)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

_LOAD_LOGGER = "qwen3_rag._runtime.loading"


def add_hardware_arguments(group: Any) -> None:
    """Add the three options to an ``argparse`` parser or argument group."""
    group.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps (default: auto)")
    group.add_argument("--dtype", default="auto", help="auto, float32, bfloat16, float16 (default: auto)")
    group.add_argument(
        "--quantize",
        choices=["int8"],
        default=None,
        help="CPU only: run the models' linear layers in dynamic int8 (faster, less exact than "
        "float32 or bfloat16; measured in docs/benchmarks.md)",
    )
    group.add_argument(
        "--verbose",
        action="store_true",
        help="say on stderr what each model load chose and why (e.g. the CPU kernel --dtype auto measured)",
    )


def hardware_options(args: argparse.Namespace) -> dict[str, Any]:
    """``load()`` options from the parsed command line (``quantize`` only when asked for)."""
    if getattr(args, "verbose", False):
        _log_loads_to_stderr()
    options: dict[str, Any] = {"device": args.device, "dtype": args.dtype}
    if args.quantize is not None:
        options["quantize"] = args.quantize
    return options


def _log_loads_to_stderr() -> None:
    """The runtime's load lines (INFO) on stderr, once per process."""
    logger = logging.getLogger(_LOAD_LOGGER)
    if any(getattr(h, "_qwen3_rag_verbose", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._qwen3_rag_verbose = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
