"""Deprecated: answer generation left the retrieval pipeline (removed in the next version).

``OpenAICompatibleChat``, ``build_messages`` and ``extractive_answer`` still resolve here and in
:mod:`qwen3_rag.pipeline`, with a ``DeprecationWarning``. The ``qwen3-rag`` command keeps its own
private copy; applications write their own answer step (``examples/chatbot_common.py`` has one to
copy: an OpenAI-compatible endpoint over httpx, or a local transformers chat model).
"""

from __future__ import annotations

import warnings
from typing import Any

MOVED = ("OpenAICompatibleChat", "build_messages", "extractive_answer")


def moved(module: str, name: str) -> Any:
    """``name`` from the command's private copy, with the deprecation warning."""
    warnings.warn(
        f"{module}.{name} is deprecated and will be removed in the next version of qwen3-rag: "
        "answer generation is not part of the retrieval pipeline. Write the answer step in your "
        "application (examples/chatbot_common.py has one to copy: an OpenAI-compatible endpoint "
        "over httpx, or the openai SDK).",
        DeprecationWarning,
        stacklevel=3,
    )
    from .. import _chat

    return getattr(_chat, name)


def __getattr__(name: str) -> Any:
    if name in MOVED:
        return moved(__name__, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
