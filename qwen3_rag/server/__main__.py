"""``python -m qwen3_rag.server ARGS``: the same as ``qwen3-rag serve ARGS``."""

from __future__ import annotations

import argparse
import sys

from .._cli.serve import add_serve_parser, run_serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qwen3_rag.server")
    add_serve_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return run_serve(args)


if __name__ == "__main__":
    sys.exit(main())
