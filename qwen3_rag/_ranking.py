"""Sort-and-cut by score, in one place: the runtime's ``rank``, the retriever and every reranking
adapter use it."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

from ._errors import InvalidOptionError


class RankedDocument(NamedTuple):
    """One reranked document: its position in the input, P(yes), and the log-odds behind it."""

    index: int  # type: ignore[assignment]  # the field shadows tuple.index, as intended
    score: float
    logit: float


def check_min_score(min_score: float | None) -> float | None:
    """``min_score`` as a float (``None``: no threshold); a NaN, bool or non-number is refused."""
    if min_score is None:
        return None
    if isinstance(min_score, bool) or not isinstance(min_score, numbers.Real) or math.isnan(min_score):
        raise InvalidOptionError(
            f"min_score must be a number (a P(yes) threshold in [0, 1] for reranker scores) or "
            f"None, got {min_score!r}."
        )
    return float(min_score)


def check_rerank_threshold(min_score: object) -> float | None:
    """A reranker ``min_score``: ``None`` or a number in [0, 1] (P(yes) is a probability)."""
    value = check_min_score(min_score)  # type: ignore[arg-type]
    if value is not None and not 0.0 <= value <= 1.0:
        raise InvalidOptionError(
            f"min_score={min_score!r}; it is a threshold on the reranker's P(yes), so it must lie "
            "in [0, 1]. For a threshold t on the log-odds (score_logits), pass 1 / (1 + exp(-t))."
        )
    return value


def best_first(
    scores: Sequence[float], top_n: int | None = None, min_score: float | None = None
) -> list[tuple[int, float]]:
    """``(index, score)`` pairs, highest score first, cut to ``top_n`` (``None``: all).

    ``min_score`` drops every score below it (a score equal to it is kept) before the cut; the
    result may then be empty, which is a valid answer. The sort is stable: equal scores keep
    their input order (for a retriever, the first stage's).
    """
    threshold = check_min_score(min_score)
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    if threshold is not None:
        order = [i for i in order if scores[i] >= threshold]
    if top_n is not None:
        order = order[:top_n]
    return [(i, float(scores[i])) for i in order]
