"""The hardware options every model-loading command takes: ``--device``, ``--dtype``, ``--quantize``."""

from __future__ import annotations

import argparse
from typing import Any


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


def hardware_options(args: argparse.Namespace) -> dict[str, Any]:
    """``load()`` options from the parsed command line (``quantize`` only when asked for)."""
    options: dict[str, Any] = {"device": args.device, "dtype": args.dtype}
    if args.quantize is not None:
        options["quantize"] = args.quantize
    return options
