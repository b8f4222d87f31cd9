"""Batch planning: group sequences of similar length so little compute goes to padding."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import InvalidOptionError
from .validation import check_positive_int


def plan_batches(
    lengths: Sequence[int],
    *,
    token_budget: int,
    max_batch_size: int | None = None,
    max_padding: int | None = None,
) -> list[list[int]]:
    """Split item indices into batches, longest first, each within ``token_budget`` padded tokens.

    The padded cost of a batch is ``len(batch) * longest``. Items are sorted by length
    (descending, stable), so each batch holds neighbours in length. An item longer than the
    budget gets a batch of its own: nothing is ever dropped. Every index appears exactly once.

    ``max_padding``: an item more than this many tokens shorter than its batch's longest starts a
    new batch. On CPU a padded token costs as much as a real one and another forward pass costs
    little (oneDNN keeps its rate down to a few dozen rows), so a small bound pays: see
    :func:`~.loading.default_max_padding`. ``None``: the budget alone decides (GPUs, which need
    big batches to be busy).
    """
    check_positive_int(token_budget, "token_budget")
    if max_padding is not None and (isinstance(max_padding, bool) or max_padding < 0):
        raise InvalidOptionError(f"max_padding must be an integer >= 0 or None, got {max_padding!r}.")
    if max_batch_size is not None:
        check_positive_int(max_batch_size, "max_batch_size", hint="Use None for no limit.")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = max(1, lengths[index])
        full = max_batch_size is not None and len(current) >= max_batch_size
        ragged = max_padding is not None and longest - length > max_padding
        if current and (full or ragged or (len(current) + 1) * max(longest, length) > token_budget):
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, length)
    if current:
        batches.append(current)
    return batches
