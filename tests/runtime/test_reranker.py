"""Reranker features through the runtime (issue 12 §1): ``rank`` with ``top_n`` / ``min_score``
on the one sort-and-cut (``best_first``), raw log-odds beside P(yes) from the same forward pass,
sequence-classification conversions equal to the causal checkpoint (1e-5) and refused when they
are not such a conversion, ``long_documents="max_window"``, and the half-precision NaN guard.

The guard is tested on CPU: the tiny reranker loaded in float16, with a forward hook on the decoder
that turns one document's rows of its last hidden state (what the yes/no readout reads) into NaN
while the weights are float16 (so only the float32 recomputation can give that document a score).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from qwen3_rag import InvalidOptionError, NumericalError, Qwen3Reranker, WrongModelKindError
from qwen3_rag._ranking import RankedDocument, best_first
from qwen3_rag._runtime.checkpoints import HEAD_TOLERANCE
from qwen3_rag._runtime.prefix_cache import scorer_for
from qwen3_rag._runtime.procedure import LOGIT_LIMIT, WINDOW_OVERLAP, log_odds
from qwen3_rag._runtime.tensors import left_pad
from qwen3_rag.testing import convert_reranker_to_sequence_classifier
from tests.support.texts import LONG

QUERY = "what is the capital of France?"
DOCS = [
    "Paris is the capital and largest city of France.",
    "Bananas are yellow and rich in potassium.",
    "",
    "The quick brown fox jumps over the lazy dog.",
    "Qdrant is a vector database. " * 5,
]


def _direct(rr: Qwen3Reranker, sequences: list[list[int]]) -> np.ndarray:
    """logit(yes) - logit(no) for each sequence computed alone, straight from the causal LM."""
    yes, no = (rr.tokenizer.convert_tokens_to_ids(t) for t in ("yes", "no"))
    out = []
    with torch.inference_mode():
        for ids in sequences:
            input_ids, mask = left_pad([ids], rr.tokenizer.pad_token_id, torch.device("cpu"))
            logits = rr.model(input_ids=input_ids, attention_mask=mask).logits[0, -1].float()
            out.append(float(logits[yes] - logits[no]))
    return np.array(out)


# ----------------------------------------------------------------- best_first and rank
def test_best_first_threshold_top_n_and_ties() -> None:
    scores = [0.2, 0.9, 0.5, 0.9, 0.1]
    assert best_first(scores) == [(1, 0.9), (3, 0.9), (2, 0.5), (0, 0.2), (4, 0.1)]
    assert best_first(scores, 2) == [(1, 0.9), (3, 0.9)]
    assert best_first(scores, None, 0.5) == [(1, 0.9), (3, 0.9), (2, 0.5)]  # equal to it is kept
    assert best_first(scores, 1, 0.5) == [(1, 0.9)]
    assert best_first(scores, None, 0.95) == []  # empty is a valid answer
    assert best_first([], 3, 0.1) == []
    for bad in (float("nan"), True, "0.5"):
        with pytest.raises(InvalidOptionError, match="min_score"):
            best_first(scores, None, bad)  # type: ignore[arg-type]


def test_rank_is_best_first_with_scores_and_logits(reranker: Qwen3Reranker) -> None:
    scores = reranker.score(QUERY, DOCS)
    ranked = reranker.rank(QUERY, DOCS)
    assert all(isinstance(r, RankedDocument) for r in ranked)
    assert [r.index for r in ranked] == sorted(range(len(DOCS)), key=lambda i: -scores[i])
    assert [r.score for r in ranked] == [scores[r.index] for r in ranked]
    for r in ranked:
        assert abs(1 / (1 + math.exp(-r.logit)) - r.score) <= 1e-6
    assert reranker.rank(QUERY, DOCS, top_n=2) == ranked[:2]
    middle = sorted(scores)[2]
    kept = reranker.rank(QUERY, DOCS, min_score=middle)
    assert kept == [r for r in ranked if r.score >= middle] and len(kept) == 3
    assert reranker.rank(QUERY, DOCS, top_n=1, min_score=middle) == ranked[:1]
    assert reranker.rank(QUERY, DOCS, min_score=1.0) == []
    assert reranker.rank(QUERY, []) == []
    assert asyncio.run(reranker.arank(QUERY, DOCS, top_n=3, min_score=middle)) == kept[:3]
    instructed = reranker.rank(QUERY, DOCS, instruction="Find the capital")
    assert [r.score for r in instructed] != [r.score for r in ranked]


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), True, "high"])
def test_rank_refuses_a_threshold_that_is_not_a_probability(reranker: Qwen3Reranker, bad: object) -> None:
    with pytest.raises(InvalidOptionError, match=r"min_score.*\[0, 1\]|min_score must be a number"):
        reranker.rank(QUERY, DOCS, min_score=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="top_n"):
        reranker.rank(QUERY, DOCS, top_n=0)


# ----------------------------------------------------------------- raw scores
def test_logits_are_the_log_odds_from_the_same_forward_pass(reranker: Qwen3Reranker) -> None:
    stats = reranker.runtime.batcher.stats
    passes = stats.forward_passes
    result = reranker.scores(QUERY, DOCS)
    both = stats.forward_passes - passes
    reranker.score(QUERY, DOCS)
    assert stats.forward_passes - passes == 2 * both  # scores and logits cost what scores alone do
    expected = _direct(reranker, reranker.encode_ids(reranker._bodies(QUERY, DOCS, None)))
    np.testing.assert_allclose(result.logits, expected, atol=1e-4, rtol=0)
    assert result.scores == reranker.score(QUERY, DOCS)
    assert reranker.score_logits(QUERY, DOCS) == result.logits
    assert asyncio.run(reranker.ascore_logits(QUERY, DOCS)) == result.logits


def test_log_odds_from_probabilities_for_servers_that_send_only_those() -> None:
    logits = np.array([-30.0, -5.0, -0.25, 0.0, 3.0, 12.0])
    probabilities = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(log_odds(probabilities), logits, atol=1e-9)
    # A float32 P(yes) near 1 keeps only ~7 digits of 1 - p: the log-odds come back coarse.
    coarse = log_odds(np.float32(1 / (1 + np.exp(-12.0))))
    assert abs(float(coarse) - 12.0) < 0.1
    assert log_odds(1.0) == pytest.approx(LOGIT_LIMIT) and log_odds(0.0) == pytest.approx(-LOGIT_LIMIT)
    assert np.isnan(log_odds(float("nan")))


# ----------------------------------------------------------------- converted checkpoints
@pytest.fixture(scope="module")
def converted(tiny_reranker_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return convert_reranker_to_sequence_classifier(
        tiny_reranker_path, tmp_path_factory.mktemp("seq-cls") / "converted"
    )


def test_converted_checkpoint_equals_the_causal_one(reranker: Qwen3Reranker, converted: Path) -> None:
    config = json.loads((converted / "config.json").read_text())
    assert config["architectures"] == ["Qwen3ForSequenceClassification"] and len(config["id2label"]) == 1
    classifier = Qwen3Reranker.load(converted, device="cpu", dtype="float32")
    assert type(classifier.model).__name__ == "Qwen3ForSequenceClassification"
    for query in (QUERY, "yellow fruit"):
        ours, theirs = reranker.scores(query, DOCS), classifier.scores(query, DOCS)
        assert np.abs(np.subtract(ours.scores, theirs.scores)).max() <= 1e-5
        assert np.abs(np.subtract(ours.logits, theirs.logits)).max() <= 1e-4
        alone = [classifier.score(query, [d])[0] for d in DOCS]  # the plain path, no prefix cache
        assert np.abs(np.subtract(ours.scores, alone)).max() <= 1e-5
    scorer = scorer_for(classifier.model)  # the batched calls above took the prefix-cached path
    assert scorer is not None and scorer.stats["cached_batches"] >= 1
    cut = classifier.with_options(max_length=100)
    official_cut = reranker.with_options(max_length=100).score(QUERY, [LONG])
    assert np.abs(np.subtract(cut.score(QUERY, [LONG]), official_cut)).max() <= 1e-5
    ranked, expected = classifier.rank(QUERY, DOCS, top_n=2), reranker.rank(QUERY, DOCS, top_n=2)
    assert [r.index for r in ranked] == [r.index for r in expected]
    assert [r.score for r in ranked] == pytest.approx([r.score for r in expected], abs=1e-5)


def _edit_config(folder: Path, **changes: object) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_classifiers_that_are_not_a_conversion_are_refused(tiny_reranker_path: str, tmp_path: Path) -> None:
    random_head = convert_reranker_to_sequence_classifier(
        tiny_reranker_path, tmp_path / "random", head="random"
    )
    with pytest.raises(WrongModelKindError, match="not the 'yes' row minus the 'no' row") as info:
        Qwen3Reranker.load(random_head, device="cpu")
    assert info.value.expected == HEAD_TOLERANCE and info.value.found > HEAD_TOLERANCE

    two_labels = convert_reranker_to_sequence_classifier(tiny_reranker_path, tmp_path / "two")
    _edit_config(two_labels, id2label={"0": "no", "1": "yes"}, label2id={"no": 0, "yes": 1})
    with pytest.raises(
        WrongModelKindError, match="2 labels; a conversion of Qwen3-Reranker has exactly one"
    ) as info:
        Qwen3Reranker.load(two_labels, device="cpu")
    assert (info.value.expected, info.value.found) == (1, 2)

    other = convert_reranker_to_sequence_classifier(tiny_reranker_path, tmp_path / "other")
    _edit_config(other, architectures=["LlamaForSequenceClassification"])
    with pytest.raises(WrongModelKindError, match="not a Qwen3 one") as info:
        Qwen3Reranker.load(other, device="cpu")
    assert info.value.expected == "Qwen3ForSequenceClassification"
    assert info.value.found == "LlamaForSequenceClassification"

    headless = convert_reranker_to_sequence_classifier(tiny_reranker_path, tmp_path / "headless")
    from safetensors.torch import load_file, save_file

    weights = load_file(headless / "model.safetensors")
    del weights["score.weight"]
    save_file(weights, headless / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(WrongModelKindError, match=r"no score.weight.*randomly initialised head") as info:
        Qwen3Reranker.load(headless, device="cpu")
    assert info.value.found is None and info.value.expected == (1, 64)  # the tiny hidden size


def test_an_untied_one_logit_head_is_trusted(tiny_reranker_path: str, tmp_path: Path) -> None:
    """Documented limit: without tied embeddings there is no LM head left to check the head against."""
    untied = convert_reranker_to_sequence_classifier(tiny_reranker_path, tmp_path / "untied", head="random")
    _edit_config(untied, tie_word_embeddings=False)
    assert len(Qwen3Reranker.load(untied, device="cpu", dtype="float32").score(QUERY, DOCS)) == len(DOCS)


# ----------------------------------------------------------------- long documents
def test_max_window_scores_every_window_in_the_whole_template(reranker: Qwen3Reranker) -> None:
    rr = reranker.with_options(max_length=120, long_documents="max_window")
    truncating = reranker.with_options(max_length=120)
    procedure = rr.procedure
    request = procedure.prepare(QUERY, [DOCS[0], LONG, DOCS[1]])
    sequences, owners = procedure.windows(request)
    assert owners.count(0) == 1 and owners.count(2) == 1 and owners.count(1) >= 3
    official = truncating.encode_ids(request.bodies)
    assert sequences[0] == official[0] and sequences[owners.index(1)] == official[1]  # first = the cut
    body = procedure._content_ids(request.bodies)[1]
    head = procedure._head_length(request, body)
    document = body[head:]
    seen: list[int] = []
    for ids in (s for s, o in zip(sequences, owners, strict=True) if o == 1):
        assert len(ids) <= 120
        assert (
            ids[: len(procedure.prefix)] == procedure.prefix
            and ids[-len(procedure.suffix) :] == procedure.suffix
        )
        assert ids[len(procedure.prefix) : len(procedure.prefix) + head] == body[:head]
        seen.extend(ids[len(procedure.prefix) + head : -len(procedure.suffix)])
    assert set(seen) == set(document) and len(seen) > len(document)  # covers it all, overlapping
    room = procedure.body_budget - head
    assert len(seen) - len(document) >= (owners.count(1) - 1) * int(room * WINDOW_OVERLAP) - room

    stats = reranker.runtime.batcher.stats
    requests = stats.requests
    result = rr.scores(QUERY, [DOCS[0], LONG, DOCS[1]])
    assert stats.requests == requests + 1  # every window in one batcher request
    windows = _direct(reranker, [s for s, o in zip(sequences, owners, strict=True) if o == 1])
    assert abs(result.logits[1] - windows.max()) <= 1e-4  # the best window's score
    assert abs(result.scores[1] - 1 / (1 + math.exp(-windows.max()))) <= 1e-5
    cut = truncating.scores(QUERY, [DOCS[0], LONG, DOCS[1]])
    assert result.scores[1] >= cut.scores[1] - 1e-6
    np.testing.assert_allclose(
        [result.scores[0], result.scores[2]], [cut.scores[0], cut.scores[2]], atol=1e-6
    )
    assert asyncio.run(rr.ascores(QUERY, [DOCS[0], LONG, DOCS[1]])).scores == pytest.approx(
        result.scores, abs=1e-6
    )
    ranked = rr.rank(QUERY, [DOCS[1], LONG], top_n=1)
    assert len(ranked) == 1 and ranked[0].score == max(rr.score(QUERY, [DOCS[1], LONG]))


def test_max_window_is_truncate_when_everything_fits(reranker: Qwen3Reranker) -> None:
    windowed = reranker.with_options(long_documents="max_window")
    assert windowed.long_documents == "max_window" and reranker.long_documents == "truncate"
    assert np.abs(np.subtract(windowed.score(QUERY, DOCS), reranker.score(QUERY, DOCS))).max() <= 1e-6
    assert windowed.score(QUERY, []) == []
    with pytest.raises(InvalidOptionError, match=r"long_documents=.sliding.*.truncate.*.max_window."):
        reranker.with_options(long_documents="sliding")


def test_a_query_too_long_for_a_window_gets_the_official_cut(reranker: Qwen3Reranker) -> None:
    rr = reranker.with_options(max_length=80, long_documents="max_window")
    long_query = "capital " * 80
    cut = reranker.with_options(max_length=80)
    assert rr.score(long_query, [LONG]) == pytest.approx(cut.score(long_query, [LONG]), abs=1e-6)


# ----------------------------------------------------------------- half precision guard
def _poison_rows_with(rr: Qwen3Reranker, marker: int) -> torch.utils.hooks.RemovableHandle:
    """NaN decoder output for rows holding ``marker`` while the weights are float16 (an overflow)."""

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: object) -> object:
        ids = kwargs.get("input_ids")
        if ids is not None and module.dtype == torch.float16:
            bad = (ids == marker).any(dim=1)
            output.last_hidden_state[bad] = float("nan")  # type: ignore[attr-defined]
        return output

    return rr.model.base_model.register_forward_hook(hook, with_kwargs=True)


def _marker(rr: Qwen3Reranker, docs: list[str], index: int) -> int:
    own = set(rr.tokenizer.encode(docs[index], add_special_tokens=False))
    others = set().union(
        *(rr.tokenizer.encode(d, add_special_tokens=False) for i, d in enumerate(docs) if i != index)
    )
    return sorted(own - others)[0]


def test_float16_rows_that_overflow_are_recomputed_in_float32_with_one_warning(
    tiny_reranker_path: str, reranker: Qwen3Reranker, caplog: pytest.LogCaptureFixture
) -> None:
    docs = [DOCS[0], "Zebras graze 7 km from Nairobi.", DOCS[3]]
    half = Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float16")
    assert half.runtime.dtype == torch.float16
    clean = half.score(QUERY, docs)
    handle = _poison_rows_with(half, _marker(half, docs, 1))
    try:
        half.runtime.warned.discard("float32-fallback")
        with caplog.at_level(logging.WARNING, logger="qwen3_rag"):
            first = half.scores(QUERY, docs)
            second = half.scores(QUERY, docs)
    finally:
        handle.remove()
    warnings = [
        r.getMessage() for r in caplog.records if "recomputed with the weights in float32" in r.getMessage()
    ]
    assert len(warnings) == 1  # once per model: the slowdown is visible, not noisy
    assert np.isfinite(first.scores).all() and first.scores == second.scores
    assert first.scores[0] == clean[0] and first.scores[2] == clean[2]  # the others stay float16
    exact = reranker.score(QUERY, docs)[1]  # float32 weights (float16-rounded there: close, not equal)
    assert abs(first.scores[1] - exact) <= 1e-2 and first.scores[1] != clean[1]
    assert all(p.dtype == torch.float16 for p in half.model.parameters())  # weights put back
    assert half.score(QUERY, docs) == clean


def test_a_row_non_finite_in_float32_is_refused_naming_both_causes(reranker: Qwen3Reranker) -> None:
    docs = [DOCS[0], "Zebras graze 7 km from Nairobi."]
    marker = _marker(reranker, docs, 1)

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: object) -> object:
        ids = kwargs.get("input_ids")
        if ids is not None:
            output.last_hidden_state[(ids == marker).any(dim=1)] = float("nan")  # type: ignore[attr-defined]
        return output

    handle = reranker.model.base_model.register_forward_hook(hook, with_kwargs=True)
    try:
        with pytest.raises(NumericalError, match=r"dtype='float32'.*attn_implementation='eager'"):
            reranker.score(QUERY, docs)
    finally:
        handle.remove()
    assert np.isfinite(reranker.score(QUERY, docs)).all()
