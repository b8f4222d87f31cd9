"""Batch planning: every item exactly once, length-sorted, within the token budget."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen3_rag._errors import InvalidOptionError
from qwen3_rag._runtime.planning import plan_batches


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=5000), max_size=300),
    budget=st.integers(min_value=1, max_value=20_000),
    max_batch=st.one_of(st.none(), st.integers(min_value=1, max_value=64)),
)
def test_every_item_exactly_once_within_budget(
    lengths: list[int], budget: int, max_batch: int | None
) -> None:
    batches = plan_batches(lengths, token_budget=budget, max_batch_size=max_batch)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    for batch in batches:
        assert batch
        padded = len(batch) * max(max(1, lengths[i]) for i in batch)
        assert len(batch) == 1 or padded <= budget
        if max_batch is not None:
            assert len(batch) <= max_batch
    # Longest first, so neighbours in length share a batch.
    ordered = [lengths[i] for i in flat]
    assert ordered == sorted(ordered, reverse=True)


def test_groups_similar_lengths() -> None:
    lengths = [10, 500, 12, 480, 11, 490]
    assert plan_batches(lengths, token_budget=1500) == [[1, 5, 3], [2, 4, 0]]


@pytest.mark.parametrize("budget", [0, -5])
def test_rejects_bad_budget(budget: int) -> None:
    with pytest.raises(InvalidOptionError, match="token_budget"):
        plan_batches([1, 2], token_budget=budget)
