"""The Qwen3 procedure on the tiny tokenizers, without a model (fast layer): input checks, the
exact token ids each model is given, truncation, reranker windows, and the finishing step (MRL,
normalisation, NaN refusal).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from qwen3_rag import DEFAULT_QUERY_INSTRUCTION, InvalidOptionError, NumericalError

# Internal names, kept in one place.
from qwen3_rag._prompts import RERANKER_PREFIX, RERANKER_SUFFIX, format_rerank_body
from qwen3_rag._runtime.procedure import EmbeddingProcedure, RerankProcedure
from qwen3_rag._runtime.validation import check_dimensions


class Warnings:
    """The ``warn(topic, message)`` callback the runtime passes in, recording its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, topic: str, message: str) -> None:
        self.calls.append((topic, message))

    @property
    def topics(self) -> list[str]:
        return [topic for topic, _ in self.calls]


def embedding(tokenizers: dict[str, Any], max_length: int = 64) -> tuple[EmbeddingProcedure, Warnings]:
    warn = Warnings()
    procedure = EmbeddingProcedure(
        tokenizers["embedding"],
        name="tiny",
        max_length=max_length,
        instruction=DEFAULT_QUERY_INSTRUCTION,
        warn=warn,
    )
    return procedure, warn


def reranking(
    tokenizers: dict[str, Any], max_length: int = 80, **options: Any
) -> tuple[RerankProcedure, Warnings]:
    warn = Warnings()
    procedure = RerankProcedure(
        tokenizers["reranker"],
        name="tiny",
        max_length=max_length,
        instruction="Judge it",
        warn=warn,
        **options,
    )
    return procedure, warn


def content_ids(tokenizer: Any, text: str) -> list[int]:
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


# ----------------------------------------------------------------------------- input checks
@pytest.mark.parametrize(
    ("texts", "error", "pattern"),
    [
        ("a bare string", TypeError, r"single str; wrap it in a list"),
        (None, TypeError, "must be a list of strings, got NoneType"),
        (["ok", None], TypeError, r"texts\[1\] is NoneType"),
        (["ok", b"bytes"], TypeError, r"texts\[1\] is bytes .*use '' for an empty text"),
        ([1.5], TypeError, r"texts\[0\] is float"),
    ],
)
def test_documents_must_be_a_list_of_strings(
    tiny_tokenizers: dict[str, Any], texts: Any, error: type[Exception], pattern: str
) -> None:
    procedure, _ = embedding(tiny_tokenizers)
    with pytest.raises(error, match=pattern):
        procedure.format_documents(texts)


def test_any_iterable_of_strings_is_accepted(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = embedding(tiny_tokenizers)
    assert procedure.format_documents(t for t in ("a", "")) == ["a", ""]
    assert procedure.format_documents(("x",)) == ["x"]


@pytest.mark.parametrize("instruction", ["", "   ", None, 3])
def test_an_instruction_must_be_a_non_empty_string(tiny_tokenizers: dict[str, Any], instruction: Any) -> None:
    with pytest.raises(InvalidOptionError, match=r"instruction=.*non-empty string"):
        EmbeddingProcedure(
            tiny_tokenizers["embedding"], name="t", max_length=8, instruction=instruction, warn=Warnings()
        )
    procedure, _ = embedding(tiny_tokenizers)
    if instruction is not None:  # per call, None means the default
        with pytest.raises(InvalidOptionError, match="instruction="):
            procedure.format_queries(["q"], instruction)


@pytest.mark.parametrize("max_length", [1, 0, -4, True, 8.0])
def test_embedding_max_length_needs_room_for_a_token_and_the_end_token(
    tiny_tokenizers: dict[str, Any], max_length: Any
) -> None:
    with pytest.raises(
        InvalidOptionError,
        match=r"max_length must be an integer >= 2, got .*counts the final <\|endoftext\|>",
    ):
        embedding(tiny_tokenizers, max_length=max_length)


@pytest.mark.parametrize(("dimensions", "valid"), [(None, 64), (32, 32), (64, 64), (48, 48)])
def test_mrl_dimensions_from_32_to_the_hidden_size(dimensions: int | None, valid: int) -> None:
    assert check_dimensions(dimensions, 64, "tiny") == valid


@pytest.mark.parametrize("dimensions", [31, 65, 0, True, 32.0, "64"])
def test_other_mrl_dimensions_are_refused(dimensions: Any) -> None:
    with pytest.raises(InvalidOptionError, match=r"run from 32 to 64.*Use None for 64"):
        check_dimensions(dimensions, 64, "tiny")


def test_rerank_query_and_documents_are_checked(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = reranking(tiny_tokenizers)
    with pytest.raises(TypeError, match="query must be a string, got NoneType"):
        procedure.prepare(None, ["d"])
    with pytest.raises(TypeError, match=r"documents\[1\] is int"):
        procedure.prepare("q", ["d", 7])
    with pytest.raises(TypeError, match="documents must be a list of strings, got a single str"):
        procedure.prepare("q", "one document")


# ----------------------------------------------------------------------------- embedding ids
def test_queries_get_the_instruction_and_documents_do_not(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = embedding(tiny_tokenizers)
    assert procedure.format_documents(["Paris."]) == ["Paris."]
    assert procedure.format_queries(["capital?"]) == [
        f"Instruct: {DEFAULT_QUERY_INSTRUCTION}\nQuery:capital?"
    ]
    assert procedure.format_queries(["capital?"], "Find cities") == ["Instruct: Find cities\nQuery:capital?"]


def test_every_sequence_ends_with_exactly_one_end_token(tiny_tokenizers: dict[str, Any]) -> None:
    """The tiny embedding tokenizer appends <|endoftext|> itself (as the published one does): the
    procedure tokenizes without it and appends one, never two."""
    tokenizer = tiny_tokenizers["embedding"]
    procedure, warn = embedding(tiny_tokenizers)
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert procedure.end_id == end and tokenizer("x")["input_ids"][-1] == end
    texts = ["hello world", "", "<|endoftext|>"]
    ids = procedure.tokenize(texts)
    assert ids == [content_ids(tokenizer, t) + [end] for t in texts]
    assert ids[1] == [end] and ids[2] == [end, end]  # a literal end token in the text is content
    assert warn.calls == []


def test_over_long_text_keeps_its_beginning(tiny_tokenizers: dict[str, Any]) -> None:
    tokenizer = tiny_tokenizers["embedding"]
    procedure, warn = embedding(tiny_tokenizers, max_length=8)
    long_text = "the quick brown fox jumps over the lazy dog"
    (ids,) = procedure.tokenize([long_text])
    assert ids == content_ids(tokenizer, long_text)[:7] + [procedure.end_id]
    assert warn.topics == ["truncation"] and "max_length=8" in warn.calls[0][1]


def test_token_id_inputs_follow_the_same_rule(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, warn = embedding(tiny_tokenizers, max_length=4)
    end = procedure.end_id
    assert procedure.tokenize_ids([[5, 6], [5, 6, end], []]) == [[5, 6, end], [5, 6, end], [end]]
    assert warn.calls == []
    assert procedure.tokenize_ids([[1, 2, 3, 4, 5, end]]) == [[1, 2, 3, end]]
    assert warn.topics == ["truncation"]


def test_token_ids_are_checked_against_the_vocabulary(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = embedding(tiny_tokenizers)
    assert procedure.check_token_ids([(1, 2), [3]], 10) == [[1, 2], [3]]
    with pytest.raises(TypeError, match="list of lists of ints, got str"):
        procedure.check_token_ids("1 2 3", 10)
    with pytest.raises(TypeError, match=r"token_ids\[1\] must be a list of ints"):
        procedure.check_token_ids([[1], [2, True]], 10)
    with pytest.raises(InvalidOptionError, match=r"token_ids\[0\] holds an id outside 0\.\.9"):
        procedure.check_token_ids([[1, 10]], 10)
    with pytest.raises(InvalidOptionError, match="outside"):
        procedure.check_token_ids([[-1]], 10)


# ----------------------------------------------------------------------------- embedding finish
def test_mrl_slices_before_normalising(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = embedding(tiny_tokenizers)
    hidden = np.array([[3.0, 4.0, 100.0], [0.0, 2.0, -5.0]])
    vectors = procedure.finish(hidden, 2, 2)
    np.testing.assert_allclose(vectors, [[0.6, 0.8], [0.0, 1.0]])
    assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"]
    assert procedure.finish(np.zeros((0, 3)), 0, 2).shape == (0, 2)
    assert np.array_equal(procedure.finish(np.zeros((1, 3)), 1, 3), np.zeros((1, 3)))  # no division by 0


def test_a_non_finite_vector_is_refused(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = embedding(tiny_tokenizers)
    hidden = np.array([[1.0, np.nan], [1.0, 1.0], [np.inf, 0.0]])
    with pytest.raises(NumericalError, match=r"'tiny' produced NaN/inf .*for 2 of these 3 texts.*float32"):
        procedure.finish(hidden, 3, 2)


# ----------------------------------------------------------------------------- reranker ids
def test_pairs_are_the_whole_template_around_the_body(tiny_tokenizers: dict[str, Any]) -> None:
    tokenizer = tiny_tokenizers["reranker"]
    procedure, warn = reranking(tiny_tokenizers, max_length=200)
    bodies = procedure.format("capital of France?", ["Paris is the capital.", ""])
    assert bodies == [
        format_rerank_body("capital of France?", d, "Judge it") for d in ("Paris is the capital.", "")
    ]
    assert procedure.format("q", ["d"], "Other task") == ["<Instruct>: Other task\n<Query>: q\n<Document>: d"]
    ids = procedure.tokenize(bodies)
    for body, sequence in zip(bodies, ids, strict=True):
        assert sequence == procedure.prefix + content_ids(tokenizer, body) + procedure.suffix
        assert tokenizer.decode(sequence) == RERANKER_PREFIX + body + RERANKER_SUFFIX
    assert warn.calls == []


def test_an_over_long_body_is_cut_from_its_end_inside_the_template(tiny_tokenizers: dict[str, Any]) -> None:
    tokenizer = tiny_tokenizers["reranker"]
    procedure, warn = reranking(tiny_tokenizers, max_length=60)
    (body,) = procedure.format("q", ["word " * 100])
    (ids,) = procedure.tokenize([body])
    assert len(ids) == 60
    assert ids == procedure.prefix + content_ids(tokenizer, body)[: procedure.body_budget] + procedure.suffix
    assert warn.topics == ["truncation"]


def test_the_template_must_fit_in_max_length(tiny_tokenizers: dict[str, Any]) -> None:
    fixed = len(reranking(tiny_tokenizers)[0].prefix) + len(reranking(tiny_tokenizers)[0].suffix)
    assert reranking(tiny_tokenizers, max_length=fixed + 1)[0].body_budget == 1
    with pytest.raises(
        InvalidOptionError,
        match=rf"max_length must be an integer >= {fixed + 1}, got {fixed}\. The chat template",
    ):
        reranking(tiny_tokenizers, max_length=fixed)


def test_long_documents_has_two_modes(tiny_tokenizers: dict[str, Any]) -> None:
    with pytest.raises(InvalidOptionError, match=r"long_documents='split'; valid: 'truncate'.*'max_window'"):
        reranking(tiny_tokenizers, long_documents="split")


def test_max_window_covers_a_long_document_with_whole_templates(tiny_tokenizers: dict[str, Any]) -> None:
    tokenizer = tiny_tokenizers["reranker"]
    procedure, _ = reranking(tiny_tokenizers, max_length=80, long_documents="max_window")
    document = " ".join(f"w{i}" for i in range(120))
    request = procedure.prepare("q", ["short one", document])
    windows, owners = procedure.windows(request)
    assert owners[0] == 0 and set(owners[1:]) == {1} and len(owners) > 3
    # A document that fits is exactly its truncate tokenization.
    assert windows[0] == procedure.tokenize([request.bodies[0]])[0]
    # The head: the body's tokens before the document (the empty-document body's tokens, less any
    # that BPE merges with the document's first word).
    empty, full = (
        content_ids(tokenizer, request.bodies[1][: -len(document)]),
        content_ids(tokenizer, request.bodies[1]),
    )
    head = next((empty[:i] for i in range(len(empty)) if empty[i] != full[i]), empty)
    assert 0 < len(head) < procedure.body_budget
    document_ids = full[len(head) :]
    spans: list[tuple[int, int]] = []
    for window in windows[1:]:
        assert len(window) <= 80
        assert window[: len(procedure.prefix)] == procedure.prefix
        assert window[-len(procedure.suffix) :] == procedure.suffix
        body = window[len(procedure.prefix) : -len(procedure.suffix)]
        assert body[: len(head)] == head  # instruction and query in every window
        part = body[len(head) :]
        begin = next(
            i
            for i in range((spans[-1][0] + 1) if spans else 0, len(document_ids))
            if document_ids[i : i + len(part)] == part
        )
        spans.append((begin, begin + len(part)))
    # The first window is the official cut; each next one overlaps the previous; the last one
    # ends with the document's end: every document token is in some window.
    assert windows[1] == procedure.tokenize([request.bodies[1]])[0]
    assert spans[0][0] == 0 and spans[-1][1] == len(document_ids)
    assert all(b[0] < a[1] for a, b in itertools.pairwise(spans))


def test_best_window_is_the_highest_log_odds_per_document() -> None:
    raw = np.array([[0.2, -1.4], [0.9, 2.2], [0.6, 0.4], [0.5, 0.0]])
    best = RerankProcedure.best_windows(raw, [0, 1, 1, 1], 2)
    np.testing.assert_array_equal(best, [[0.2, -1.4], [0.9, 2.2]])
    with_nan = RerankProcedure.best_windows(np.array([[0.9, 2.2], [np.nan, np.nan]]), [0, 0], 1)
    assert np.isnan(with_nan).all()  # a non-finite window wins, so the document is refused


def test_rerank_finish_gives_scores_and_logits_and_refuses_nan(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, _ = reranking(tiny_tokenizers)
    result = procedure.finish(np.array([[0.75, 1.0986], [0.5, 0.0]]))
    assert result.scores == [0.75, 0.5] and result.logits == [1.0986, 0.0]
    with pytest.raises(NumericalError, match="for 1 of these 2 documents"):
        procedure.finish(np.array([[0.5, 0.0], [np.nan, 1.0]]))


def test_documents_for_text_servers_are_cut_only_when_too_long(tiny_tokenizers: dict[str, Any]) -> None:
    procedure, warn = reranking(tiny_tokenizers, max_length=100)
    long_document = " ".join(f"w{i}" for i in range(100))
    short, cut = procedure.fit_documents("q", ["Paris.", long_document], None)
    assert short == "Paris." and warn.topics == ["truncation"]
    assert long_document.startswith(cut) and 0 < len(cut) < len(long_document)
    assert len(procedure.tokenize([format_rerank_body("q", cut, "Judge it")])[0]) <= 100
    # A query that leaves no room for any document text: the document is sent empty.
    tight, _ = reranking(tiny_tokenizers, max_length=60)
    assert tight.fit_documents("q", ["Paris."], None) == [""]
