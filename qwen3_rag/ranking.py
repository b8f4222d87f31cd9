"""Sort-and-cut by score, in one place: the retriever and every reranking adapter use it."""

from __future__ import annotations

from collections.abc import Sequence


def best_first(scores: Sequence[float], top_n: int | None = None) -> list[tuple[int, float]]:
    """``(index, score)`` pairs, highest score first, cut to ``top_n`` (``None``: all).

    The sort is stable: equal scores keep their input order (for a retriever, the first stage's).
    """
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    if top_n is not None:
        order = order[:top_n]
    return [(i, float(scores[i])) for i in order]
