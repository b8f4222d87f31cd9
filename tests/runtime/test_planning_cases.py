"""Batch planning (fast layer): exact plans for the cases the property test only bounds."""

from __future__ import annotations

import pytest

from qwen3_rag import InvalidOptionError
from qwen3_rag._runtime.planning import plan_batches


def test_no_items_no_batches() -> None:
    assert plan_batches([], token_budget=10) == []


def test_an_item_longer_than_the_budget_gets_a_batch_of_its_own() -> None:
    # 50 > budget 40: alone, never dropped; the rest fill batches of padded cost <= 40.
    assert plan_batches([10, 50, 10, 10, 10], token_budget=40) == [[1], [0, 2, 3, 4]]


def test_padded_cost_counts_the_longest_item_of_the_batch() -> None:
    # 3 x 12 = 36 fits 40, a fourth item would cost 4 x 12 = 48.
    assert plan_batches([12, 11, 10, 9], token_budget=40) == [[0, 1, 2], [3]]


def test_equal_lengths_keep_their_input_order() -> None:
    assert plan_batches([5, 7, 5, 7, 5], token_budget=100) == [[1, 3, 0, 2, 4]]


def test_max_batch_size_caps_items_per_batch() -> None:
    assert plan_batches([1] * 7, token_budget=1000, max_batch_size=3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_an_empty_sequence_costs_one_token() -> None:
    # Three empty items cost 3 x 1 = 3 > budget 2: two batches, not one.
    assert plan_batches([0, 0, 0], token_budget=2) == [[0, 1], [2]]


@pytest.mark.parametrize("size", [0, -1])
def test_rejects_bad_max_batch_size(size: int) -> None:
    with pytest.raises(
        InvalidOptionError, match=r"max_batch_size must be a positive integer, got .*None for no limit"
    ):
        plan_batches([1, 2], token_budget=10, max_batch_size=size)


def test_max_padding_starts_a_new_batch_for_a_much_shorter_item() -> None:
    lengths = [100, 95, 84, 83, 60, 10]
    plan = plan_batches(lengths, token_budget=10_000, max_padding=16)
    assert plan == [[0, 1, 2], [3], [4], [5]]  # 83 is 17 shorter than 100: a batch of its own
    # Each batch's padding stays within the bound, and nothing is lost or repeated.
    for batch in plan:
        assert max(lengths[i] for i in batch) - min(lengths[i] for i in batch) <= 16
    assert sorted(i for b in plan for i in b) == list(range(len(lengths)))
    assert plan_batches(lengths, token_budget=10_000) == [[0, 1, 2, 3, 4, 5]]  # no bound: one batch


def test_max_padding_zero_groups_equal_lengths_only_and_the_budget_still_applies() -> None:
    lengths = [8, 8, 8, 8, 5, 5]
    assert plan_batches(lengths, token_budget=16, max_padding=0) == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("bad", [-1, True])
def test_max_padding_must_be_a_non_negative_integer(bad: object) -> None:
    with pytest.raises(InvalidOptionError, match="max_padding must be an integer >= 0 or None"):
        plan_batches([1, 2], token_budget=8, max_padding=bad)  # type: ignore[arg-type]
