"""Reranker shared-prefix key/value cache: compute each query's prompt prefix once per batch.

Every reranker input for one query starts with the same tokens: the system prompt, the
instruction and the query (``<|im_start|>system ... <Query>: {query}\\n<Document>:``). Those
tokens' keys and values do not depend on the document (attention is causal), so they can be
computed once and reused for every document of that query.

Exactness: the shared prefix is the longest common *token* prefix of the real input ids (not
of the strings), so a BPE merge across the query/document boundary can only shorten it, never
change a token. Each row's remaining tokens are placed right after its own prefix (explicit
position ids), so every token sees exactly the keys, values and relative positions it sees in
the plain left-padded batch; scores agree with the plain path to float rounding (~1e-7).

Layout of one forward pass, ``B`` rows from ``G`` prefix groups::

    keys:   [ zeros (masked) | prefix_g (P_g) ][ padding (masked) | rest_i (R_i) ]
    query:                                    [ padding          | rest_i       ]

The prefix of each group is computed alone (no padding, positions ``0..P_g-1``); the cache is
left-padded with zeros (never NaN) to the longest prefix and gathered per row; the rest is
left-padded after the prefix, so the last position is every row's last token and the readout
(:class:`~.readout.YesNoReadout`: the LM head, or a converted checkpoint's one-logit head) runs
there only, as in the plain path.

The cached path runs only when it saves enough work (see :func:`plan_prefix_groups`);
otherwise the caller uses the plain path. It is used with the ``sdpa`` and ``eager`` attention
implementations only.
"""

from __future__ import annotations

import inspect
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .readout import YesNoReadout

logger = logging.getLogger(__name__)

SUPPORTED_ATTENTION = ("sdpa", "eager")

_SCORERS: weakref.WeakKeyDictionary[Any, PrefixCachedScorer] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PrefixGroup:
    """Rows that share ``prefix`` (token ids); each row keeps at least one token of its own."""

    prefix: tuple[int, ...]
    rows: list[int]


def _common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def plan_prefix_groups(
    sequences: Sequence[Sequence[int]], *, min_prefix: int = 8, min_saving: float = 0.02
) -> list[PrefixGroup] | None:
    """Group rows by shared token prefix; ``None`` when the cached path would not pay.

    Rows are sorted lexicographically; neighbours that share more than the prefix common to
    the whole batch form a group (one query's documents), whose prefix is their longest common
    prefix. Every other row joins the group of the batch-wide prefix (the system prompt and
    instruction). Each prefix is capped so its rows keep at least one token. The plan is taken
    when the padded token count drops by at least ``min_saving``.
    """
    count = len(sequences)
    if count < 2:
        return None
    order = sorted(range(count), key=lambda i: list(sequences[i]))
    adjacent = [_common_prefix_length(sequences[order[k]], sequences[order[k + 1]]) for k in range(count - 1)]
    global_prefix = min(adjacent)
    clusters: list[list[int]] = [[order[0]]]
    cluster_prefix: list[int] = [10**9]
    for k in range(1, count):
        shared = adjacent[k - 1]
        if shared > global_prefix:
            clusters[-1].append(order[k])
            cluster_prefix[-1] = min(cluster_prefix[-1], shared)
        else:
            clusters.append([order[k]])
            cluster_prefix.append(10**9)
    groups: dict[tuple[int, ...], list[int]] = {}
    for rows, prefix_length in zip(clusters, cluster_prefix, strict=True):
        length = global_prefix if len(rows) == 1 else prefix_length
        length = min(length, min(len(sequences[i]) for i in rows) - 1)
        key = tuple(sequences[rows[0]][: max(0, length)])
        groups.setdefault(key, []).extend(rows)
    plan = [PrefixGroup(prefix, sorted(rows)) for prefix, rows in groups.items()]
    if all(len(g.prefix) < min_prefix for g in plan):
        return None
    plain = count * max(len(s) for s in sequences)
    longest_prefix = max(len(g.prefix) for g in plan)
    rest = max(len(sequences[i]) - len(g.prefix) for g in plan for i in g.rows)
    cached = sum(len(g.prefix) for g in plan) + count * rest
    # Attention in the rest pass also reads the (padded) prefix keys; count it lightly.
    cached += count * longest_prefix * rest // max(1, 4 * rest + longest_prefix)
    if cached > (1.0 - min_saving) * plain:
        return None
    return plan


def _cache_name(model: Any) -> str:
    """The forward argument and output field that carry the KV cache in this transformers.

    transformers 5.x renamed ``past_key_values`` to ``cache``; the old name still works but warns
    on every call (removed in 5.40). Older releases (>= 4.56, our floor) know only the old name.
    """
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _layer_tensors(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return [(layer.keys, layer.values) for layer in layers]
    return list(zip(cache.key_cache, cache.value_cache, strict=True))  # older transformers


def _new_cache(model: Any, tensors: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    from transformers import DynamicCache

    try:
        cache = DynamicCache(config=model.config)
    except TypeError:  # older transformers: no config argument
        cache = DynamicCache()
    for index, (keys, values) in enumerate(tensors):
        cache.update(keys, values, index)
    return cache


class PrefixCachedScorer:
    """Reranker yes/no scores with each prefix group's keys and values computed once.

    ``__call__(sequences)`` returns ``[P(yes), logit(yes) - logit(no)]`` per row (a CPU float32
    ``(rows, 2)`` tensor, as :class:`~.readout.YesNoReadout` gives), or ``None`` when the plan says
    the plain path is as good. Prefix caches are kept in a small
    LRU so later batches of the same query reuse them.
    """

    def __init__(
        self,
        model: Any,
        *,
        readout: YesNoReadout,
        pad_id: int,
        device: torch.device,
        max_cached_prefixes: int = 8,
        planner: Callable[[Sequence[Sequence[int]]], list[PrefixGroup] | None] = plan_prefix_groups,
    ) -> None:
        self.model = model
        self.readout = readout
        self.base = readout.decoder  # what the readout runs: the decoder without a head
        self.pad_id = pad_id
        self.device = device
        self.max_cached_prefixes = max_cached_prefixes
        self.planner = planner
        self.cache_name = _cache_name(self.base)
        self._prefixes: OrderedDict[tuple[int, ...], list[tuple[torch.Tensor, torch.Tensor]]] = OrderedDict()
        self.stats = {"cached_batches": 0, "plain_batches": 0, "prefix_hits": 0, "prefix_misses": 0}

    def _prefix_kv(self, prefix: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        found = self._prefixes.get(prefix)
        if found is not None:
            self._prefixes.move_to_end(prefix)
            self.stats["prefix_hits"] += 1
            return found
        self.stats["prefix_misses"] += 1
        ids = torch.tensor([prefix], dtype=torch.long, device=self.device)
        out = self.base(input_ids=ids, use_cache=True)
        tensors = [(k.detach(), v.detach()) for k, v in _layer_tensors(getattr(out, self.cache_name))]
        self._prefixes[prefix] = tensors
        while len(self._prefixes) > self.max_cached_prefixes:
            self._prefixes.popitem(last=False)
        return tensors

    @torch.inference_mode()
    def __call__(self, sequences: list[list[int]]) -> torch.Tensor | None:
        plan = self.planner(sequences)
        if plan is None:
            self.stats["plain_batches"] += 1
            return None
        self.stats["cached_batches"] += 1
        count = len(sequences)
        longest = max(len(g.prefix) for g in plan)
        group_of = [0] * count
        for index, group in enumerate(plan):
            for row in group.rows:
                group_of[row] = index
        kv = [self._prefix_kv(g.prefix) if g.prefix else [] for g in plan]

        # Cache: every group's prefix right-aligned in a zero tensor of the longest prefix.
        layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        if longest:
            reference = next(t for t in kv if t)
            for layer, (k0, v0) in enumerate(reference):
                keys = k0.new_zeros((count, k0.shape[1], longest, k0.shape[3]))
                values = v0.new_zeros((count, v0.shape[1], longest, v0.shape[3]))
                for index, group in enumerate(plan):
                    if not group.prefix:
                        continue
                    k, v = kv[index][layer]
                    rows = torch.tensor(group.rows, device=keys.device)
                    keys[rows, :, longest - k.shape[2] :] = k
                    values[rows, :, longest - v.shape[2] :] = v
                layers.append((keys, values))

        rests = [sequences[i][len(plan[group_of[i]].prefix) :] for i in range(count)]
        width = max(len(r) for r in rests)
        input_ids = torch.full((count, width), self.pad_id, dtype=torch.long)
        position_ids = torch.zeros((count, width), dtype=torch.long)
        mask = torch.zeros((count, longest + width), dtype=torch.long)
        for i, rest in enumerate(rests):
            start = len(plan[group_of[i]].prefix)
            pad = width - len(rest)
            input_ids[i, pad:] = torch.tensor(rest, dtype=torch.long)
            position_ids[i] = torch.arange(start - pad, start + len(rest)).clamp_(min=start)
            mask[i, longest - start : longest] = 1
            mask[i, longest + pad :] = 1
        kwargs: dict[str, Any] = {}
        if layers:
            kwargs[self.cache_name] = _new_cache(self.model, layers)
        return self.readout(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=position_ids.to(self.device),
            use_cache=bool(layers),
            **kwargs,
        ).cpu()


def make_prefix_scorer(model: Any, *, readout: YesNoReadout, pad_id: int, device: torch.device) -> Any:
    """A :class:`PrefixCachedScorer` for ``model``, or ``None`` where it is not supported."""
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation not in SUPPORTED_ATTENTION:
        return None
    try:
        scorer = PrefixCachedScorer(model, readout=readout, pad_id=pad_id, device=device)
    except Exception:  # an unfamiliar model layout: keep the plain path
        logger.debug("qwen3-rag: reranker prefix cache unavailable", exc_info=True)
        return None
    _SCORERS[model] = scorer
    return scorer


def scorer_for(model: Any) -> PrefixCachedScorer | None:
    """The prefix scorer serving ``model`` (for statistics and benchmarks), if any."""
    return _SCORERS.get(model)
