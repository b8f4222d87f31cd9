"""Checks on what callers pass in, with errors that name the bad item and the fix."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._errors import InvalidOptionError


def check_texts(texts: Any, what: str = "texts") -> list[str]:
    """A list of strings; ``""`` is valid, ``None`` or a non-string is a ``TypeError``."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"{what} must be a list of strings, got a single {type(texts).__name__}; "
            f"wrap it in a list: [{what[:-1] if what.endswith('s') else what}]."
        )
    if not isinstance(texts, Iterable):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}.")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(
                f"{what}[{index}] is {type(text).__name__} ({text!r:.60}), not str; every item "
                "must be a string (use '' for an empty text)."
            )
    return items


def check_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, got {type(text).__name__} ({text!r:.60}).")
    return text


def check_instruction(instruction: Any) -> str:
    if not isinstance(instruction, str) or not instruction.strip():
        raise InvalidOptionError(
            f"instruction={instruction!r}; it must be a non-empty string describing the task, "
            "e.g. 'Given a web search query, retrieve relevant passages that answer the query'."
        )
    return instruction


def check_positive_int(value: Any, name: str, *, minimum: int = 1, hint: str = "") -> int:
    """``value`` if it is an ``int`` of at least ``minimum`` (``bool`` and ``float`` refused).

    The one check for counts and sizes everywhere (options, CLI flags, server limits): the error
    names the parameter (``name`` may be a flag such as ``--top-k``) and what it must be;
    ``hint`` adds how to fix it where the range is not obvious.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InvalidOptionError(f"{name} must be {what}, got {value!r}." + (f" {hint}" if hint else ""))
    return value


def check_dimensions(dimensions: Any, hidden_size: int, model: str) -> int:
    """MRL output size: any integer from 32 to the model's hidden size."""
    if dimensions is None:
        return hidden_size
    if (
        isinstance(dimensions, bool)
        or not isinstance(dimensions, int)
        or not (32 <= dimensions <= hidden_size)
    ):
        raise InvalidOptionError(
            f"dimensions={dimensions!r} is not valid for {model!r}: Matryoshka (MRL) output "
            f"sizes run from 32 to {hidden_size} (the model's hidden size). Use None for {hidden_size}."
        )
    return dimensions
