"""The ``qwen3-rag`` command run in-process, as the CLI tests call it."""

from __future__ import annotations

import io

from qwen3_rag._cli import main


def run(argv: list[str], stdin: str = "") -> tuple[int, str]:
    """``qwen3-rag ARGV`` with ``stdin`` as its input: its exit code and what it wrote to stdout."""
    out = io.StringIO()
    code = main(argv, stdout=out, stdin=io.StringIO(stdin))
    return code, out.getvalue()
