"""The reranker's shared-prefix KV cache gives the plain path's scores (1e-5) in every layout."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from qwen3_rag import Qwen3Reranker
from qwen3_rag._runtime.prefix_cache import PrefixCachedScorer, _cache_name, plan_prefix_groups
from qwen3_rag._runtime.readout import YesNoReadout
from qwen3_rag._runtime.tensors import left_pad

DOCS = [
    "Paris is the capital of France.",
    "Bananas are yellow and rich in potassium, which muscles need.",
    "The quick brown fox jumps over the lazy dog.",
    "A vector database stores embeddings for similarity search.",
    "x",
    "Qdrant is a vector database. " * 6,
]


def _plain(rr: Qwen3Reranker, sequences: list[list[int]]) -> np.ndarray:
    yes, no = (rr.tokenizer.convert_tokens_to_ids(t) for t in ("yes", "no"))
    ids, mask = left_pad(sequences, rr.tokenizer.pad_token_id, torch.device("cpu"))
    with torch.inference_mode():
        logits = rr.model(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits
    return torch.log_softmax(logits[:, -1, [no, yes]].float(), dim=1)[:, 1].exp().numpy()


def _scorer(rr: Qwen3Reranker) -> PrefixCachedScorer:
    tok = rr.tokenizer
    return PrefixCachedScorer(
        rr.model,
        readout=YesNoReadout(rr.model, tok),
        pad_id=tok.pad_token_id,
        device=torch.device("cpu"),
        planner=lambda s: plan_prefix_groups(s, min_saving=0.0),
    )


@pytest.mark.parametrize(
    "queries",
    [
        ["what is the capital of France?"],
        ["capital of France?", "yellow fruit", "vector search engine"],
        ["q", "q2"],  # queries that are prefixes of each other
        ["fox", "fox "],  # a trailing space that merges into the document's first token
    ],
)
def test_cached_scores_equal_plain_scores(reranker: Qwen3Reranker, queries: list[str]) -> None:
    bodies = [b for q in queries for b in reranker._bodies(q, DOCS, None)]
    sequences = reranker.encode_ids(bodies)
    scorer = _scorer(reranker)
    cached = scorer(sequences)
    assert cached is not None and tuple(cached.shape) == (len(sequences), 2)
    assert np.abs(cached.numpy()[:, 0] - _plain(reranker, sequences)).max() <= 1e-5
    # The log-odds column is the same rows' logit(yes) - logit(no): its sigmoid is P(yes).
    assert np.abs(1 / (1 + np.exp(-cached.numpy()[:, 1])) - cached.numpy()[:, 0]).max() <= 1e-6
    again = scorer(sequences)  # second batch reuses the cached prefixes
    assert again is not None and scorer.stats["prefix_hits"] >= 1
    assert np.abs(again.numpy() - cached.numpy()).max() <= 1e-6


def test_groups_share_only_identical_token_prefixes() -> None:
    seqs = [[1, 2, 3, 4, 5], [1, 2, 3, 4, 6, 7], [1, 2, 9, 9], [1, 2, 9, 8, 8]]
    plan = plan_prefix_groups(seqs, min_prefix=1, min_saving=0.0)
    assert plan is not None
    rows = sorted(r for g in plan for r in g.rows)
    assert rows == [0, 1, 2, 3]
    for group in plan:
        for row in group.rows:
            assert tuple(seqs[row][: len(group.prefix)]) == group.prefix
            assert len(seqs[row]) > len(group.prefix)  # at least one token left for the readout


def test_no_plan_without_a_shared_prefix() -> None:
    assert plan_prefix_groups([[1, 2, 3], [4, 5, 6]]) is None
    assert plan_prefix_groups([[1, 2, 3]]) is None


def test_public_score_uses_the_cache_and_matches(reranker: Qwen3Reranker) -> None:
    from qwen3_rag._runtime.prefix_cache import scorer_for

    scores = reranker.score("capital of France?", DOCS)
    plain = _plain(reranker, reranker.encode_ids(reranker._bodies("capital of France?", DOCS, None)))
    assert np.abs(np.asarray(scores) - plain).max() <= 1e-5
    assert scorer_for(reranker.model) is not None


def test_cache_is_passed_under_the_name_the_installed_transformers_knows(reranker: Qwen3Reranker) -> None:
    class Old(torch.nn.Module):  # transformers < 5: past_key_values only
        def forward(self, input_ids: object = None, past_key_values: object = None) -> None: ...

    class New(torch.nn.Module):  # transformers 5.x: cache (past_key_values deprecated, warns)
        def forward(self, input_ids: object = None, cache: object = None) -> None: ...

    assert _cache_name(Old()) == "past_key_values"
    assert _cache_name(New()) == "cache"
    assert _cache_name(reranker.model) in inspect.signature(reranker.model.forward).parameters
