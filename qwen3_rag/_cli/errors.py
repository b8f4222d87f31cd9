"""Errors in the command line's words: flags and commands, where the library names parameters.

The library's messages are written for Python callers (``Qwen3Embedder.load(...)``, ``overlap``);
its errors carry structured fields (``model``, ``reason``, ``expected``, ``found``) so the command
line can say the same thing with the flag a user types.
"""

from __future__ import annotations

import argparse
import re

from .._errors import ModelLoadError, Qwen3RagError, WrongModelKindError

# The library's parameters and the flags that set them: a message saying ``qdrant_url=`` (or
# ``embedding_model='X'``) says ``--qdrant-url`` (``--embedding-model X``) on the command line.
PARAMETER_FLAGS = {
    "qdrant_url": "--qdrant-url",
    "qdrant_path": "--qdrant-path",
    "collection": "--collection",
    "embedding_model": "--embedding-model",
    "dimensions": "--dimensions",
}
_PARAMETER = re.compile(rf"(?<![\w-])({'|'.join(PARAMETER_FLAGS)})=('[^']*'|[^\s,;)]+(?<!\.))?")

_KIND_FLAG = {"embedding": "--embedding-model", "reranker": "--reranker-model"}
_KIND_ARTICLE = {"embedding": "an embedding", "reranker": "a reranker"}
_KIND_NAME = {"embedding": "Qwen/Qwen3-Embedding-*", "reranker": "Qwen/Qwen3-Reranker-*"}


def cli_message(exc: Qwen3RagError, args: argparse.Namespace) -> str:
    """One line for ``exc``: in flags where the error's fields allow, else its own message."""
    if isinstance(exc, ModelLoadError) and exc.model and exc.reason:
        return _model_not_loaded(exc.model, exc.reason, args)
    if (
        isinstance(exc, WrongModelKindError)
        and exc.model
        and exc.found in _KIND_FLAG
        and exc.expected in _KIND_FLAG
    ):
        return (
            f"Model {exc.model!r} is {_KIND_ARTICLE[exc.found]} model, not {_KIND_ARTICLE[exc.expected]} "
            f"model: pass it with {_KIND_FLAG[exc.found]}, and give {_KIND_FLAG[exc.expected]} a "
            f"{_KIND_NAME[exc.expected]} model."
        )
    return as_flags(" ".join(str(exc).split()))


def as_flags(message: str) -> str:
    """``message`` with the library's parameters (``qdrant_url=``, ``dimensions=64``) as flags."""

    def flag(match: re.Match[str]) -> str:
        value = match.group(2)
        shown = "" if value is None else " " + (value[1:-1] if value.startswith("'") else value)
        return PARAMETER_FLAGS[match.group(1)] + shown

    return _PARAMETER.sub(flag, message)


def _model_not_loaded(model: str, reason: str, args: argparse.Namespace) -> str:
    flag = "--reranker-model" if model == getattr(args, "reranker_model", None) else "--embedding-model"
    problem = {
        "not_found": f"Model {model!r}: there is no such folder, and it is not a Hub id (owner/name).",
        "not_a_checkpoint": f"Model folder {model!r} has no config.json, so it is not a model checkpoint.",
        "hub_unavailable": f"Model {model!r} is not on this machine, and the Hugging Face Hub could not "
        "provide it (offline, or no such model).",
    }.get(reason, f"Model {model!r} could not be loaded.")
    server = (
        " (or --embedding-url / --reranker-url URL of a server that runs it)"
        if args.command
        in {
            "ingest",
            "query",
            "chat",
        }
        else ""
    )
    return (
        f"{problem} Pass a local copy with {flag} DIR{server}; fetch one on a connected machine with "
        f"`hf download {model} --local-dir DIR`. For an offline smoke test, "
        "`python -m qwen3_rag.testing DIR` writes tiny checkpoints."
    )
