"""Sort-and-cut by score (fast layer): the rules every reranking adapter relies on."""

from __future__ import annotations

import numpy as np
import pytest

from qwen3_rag import InvalidOptionError, RankedDocument

# Internal names, kept in one place.
from qwen3_rag._ranking import best_first, check_rerank_threshold


def test_best_first_cuts_after_the_threshold_and_keeps_ties_in_input_order() -> None:
    scores = [-1.0, 0.3, -1.0, 0.3, 0.3]
    assert best_first(scores, top_n=4, min_score=-1.0) == [(1, 0.3), (3, 0.3), (4, 0.3), (0, -1.0)]
    assert best_first(scores, top_n=0) == []


def test_best_first_gives_plain_floats_for_numpy_scores() -> None:
    ranked = best_first(np.array([0.25, 0.75], dtype=np.float32), min_score=np.float64(0.5))  # type: ignore[arg-type]
    assert ranked == [(1, 0.75)] and type(ranked[0][1]) is float


@pytest.mark.parametrize("threshold", [0, 0.0, 0.5, 1])
def test_a_rerank_threshold_is_a_probability(threshold: float) -> None:
    assert check_rerank_threshold(threshold) == float(threshold)
    assert check_rerank_threshold(None) is None


@pytest.mark.parametrize("bad", [1.01, -0.5])
def test_a_threshold_outside_zero_to_one_names_the_log_odds_conversion(bad: float) -> None:
    with pytest.raises(InvalidOptionError, match=r"in \[0, 1\].*1 / \(1 \+ exp\(-t\)\)"):
        check_rerank_threshold(bad)


def test_ranked_document_fields() -> None:
    ranked = RankedDocument(index=2, score=0.9, logit=2.2)
    assert (ranked.index, ranked.score, ranked.logit) == (2, 0.9, 2.2)
    assert ranked == (2, 0.9, 2.2) and ranked._fields == ("index", "score", "logit")
