"""The runtime reproduces the official procedure (qwen3_rag/testing_reference.py) to float precision."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag.testing import write_tiny_checkpoints
from qwen3_rag.testing_reference import WEB_SEARCH, ReferenceEmbedder, ReferenceReranker

pytestmark = pytest.mark.models  # every test here builds or loads a model

M = TypeVar("M", Qwen3Embedder, Qwen3Reranker)

TOLERANCE = 1e-5

TEXTS = [
    "Paris is the capital and largest city of France.",
    "",
    "yes",
    "A much longer passage about retrieval augmented generation, vectors, rerankers and search "
    "engines, repeated to make it long. " * 6,
    "中文文本, emoji 😀, combining é, RTL שלום",
    "  leading and trailing spaces  ",
    "line one\nline two\n\nline four",
]
QUERIES = ["what is the capital of France?", "", "rerankers and vectors", "😀"]


@pytest.fixture(scope="module", params=["appending", "plain"])
def embedding_path(
    request: pytest.FixtureRequest,
    tiny_checkpoints: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """Both kinds of embedding tokenizer: with and without the <|endoftext|> post-processor."""
    if request.param == "appending":
        return str(tiny_checkpoints["embedding"])
    folder = tmp_path_factory.mktemp("tiny-plain")
    return str(write_tiny_checkpoints(folder, embedding_appends_eos=False)["embedding"])


@pytest.fixture(scope="module")
def reference_embedder(embedding_path: str) -> ReferenceEmbedder:
    return ReferenceEmbedder(embedding_path)


@pytest.fixture(scope="module")
def reference_reranker(tiny_reranker_path: str) -> ReferenceReranker:
    return ReferenceReranker(tiny_reranker_path)


def one_at_a_time(reference: ReferenceEmbedder, texts: list[str], **kwargs: Any) -> np.ndarray:
    return np.concatenate([reference.embed([t], **kwargs) for t in texts])


def test_tokenizer_kinds_differ_as_intended(
    reference_embedder: ReferenceEmbedder, embedding_path: str
) -> None:
    # Guards the fixture: one kind appends <|endoftext|>, the other does not.
    assert reference_embedder.appends_eod == ("tiny-plain" not in embedding_path)
    ids = reference_embedder.tokenizer("abc")["input_ids"]
    assert (ids[-1] == reference_embedder.eod_id) == reference_embedder.appends_eod


def test_documents_match_reference_batched_and_single(
    embedding_path: str, reference_embedder: ReferenceEmbedder
) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32")
    ours = embedder.embed_documents(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), embedder.hidden_size)
    assert np.abs(ours - reference_embedder.embed(TEXTS)).max() <= TOLERANCE
    assert np.abs(ours - one_at_a_time(reference_embedder, TEXTS)).max() <= TOLERANCE
    singles = np.concatenate([embedder.embed_documents([t]) for t in TEXTS])
    assert np.abs(ours - singles).max() <= TOLERANCE
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "instruction", [None, "Retrieve semantically similar text", "braces {x} and\nnewline"]
)
def test_queries_match_reference_with_instruction(
    embedding_path: str, reference_embedder: ReferenceEmbedder, instruction: str | None
) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32")
    task = instruction or "Given a web search query, retrieve relevant passages that answer the query"
    expected = reference_embedder.embed([f"Instruct: {task}\nQuery:{q}" for q in QUERIES])
    assert np.abs(embedder.embed_queries(QUERIES, instruction=instruction) - expected).max() <= TOLERANCE


def test_documents_get_no_instruction(embedding_path: str, reference_embedder: ReferenceEmbedder) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32")
    query_vec = embedder.embed_queries(["capital"])
    doc_vec = embedder.embed_documents(["capital"])
    assert np.abs(doc_vec - reference_embedder.embed(["capital"])).max() <= TOLERANCE
    assert np.abs(query_vec - doc_vec).max() > 1e-3


@pytest.mark.parametrize("dimensions", [32, 48, 64])
def test_mrl_slices_before_normalising(
    embedding_path: str, reference_embedder: ReferenceEmbedder, dimensions: int
) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32", dimensions=dimensions)
    ours = embedder.embed_documents(TEXTS)
    assert ours.shape == (len(TEXTS), dimensions) and embedder.dimensions == dimensions
    assert np.abs(ours - reference_embedder.embed(TEXTS, dim=dimensions)).max() <= TOLERANCE
    assert np.abs(ours - one_at_a_time(reference_embedder, TEXTS, dim=dimensions)).max() <= TOLERANCE


def _not_yet_warned(model: M) -> M:
    """``model`` with its runtime's once-only truncation warning re-armed (the runtime is shared)."""
    model.runtime.warned.discard("truncation")
    return model


def test_over_long_inputs_truncated_like_official_with_one_warning(
    embedding_path: str, reference_embedder: ReferenceEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = _not_yet_warned(Qwen3Embedder.load(embedding_path, dtype="float32", max_length=24))
    with caplog.at_level(logging.WARNING, logger="qwen3_rag"):
        ours = embedder.embed_documents(TEXTS)
        embedder.embed_documents(TEXTS)
    warnings = [r for r in caplog.records if "max_length=24" in r.getMessage()]
    assert len(warnings) == 1
    assert np.abs(ours - reference_embedder.embed(TEXTS, max_length=24)).max() <= TOLERANCE
    assert np.abs(ours - one_at_a_time(reference_embedder, TEXTS, max_length=24)).max() <= TOLERANCE
    ids = embedder.encode_ids(TEXTS)
    assert max(len(i) for i in ids) == 24


def test_exactly_one_trailing_end_token(embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32", max_length=16)
    end = embedder.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    for ids in embedder.encode_ids(TEXTS + ["x" * 500]):
        assert ids[-1] == end
        assert len(ids) < 2 or ids[-2] != end


def test_batch_invariance_under_heavy_padding(embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32")
    alone = embedder.embed_documents(["short"])
    padded = embedder.embed_documents(["short", "very long text " * 60])[:1]
    assert np.abs(alone - padded).max() <= TOLERANCE


async def test_async_equals_sync(embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(embedding_path, dtype="float32")
    assert np.abs(await embedder.aembed_documents(TEXTS) - embedder.embed_documents(TEXTS)).max() == 0
    assert np.abs(await embedder.aembed_queries(QUERIES) - embedder.embed_queries(QUERIES)).max() == 0


# ----------------------------------------------------------------------------- reranker
DOCUMENTS = TEXTS + ["Paris.", "The capital of France is Paris, a city on the Seine."]


@pytest.mark.parametrize(
    "instruction", [None, "Given a question, retrieve Wikipedia passages that answer the question"]
)
def test_reranker_matches_reference(
    tiny_reranker_path: str, reference_reranker: ReferenceReranker, instruction: str | None
) -> None:
    reranker = Qwen3Reranker.load(tiny_reranker_path, dtype="float32")
    task = instruction or WEB_SEARCH
    for query in QUERIES:
        ours = np.array(reranker.score(query, DOCUMENTS, instruction=instruction))
        batched = np.array(reference_reranker.score(query, DOCUMENTS, instruction=task))
        single = np.array([reference_reranker.score(query, [d], instruction=task)[0] for d in DOCUMENTS])
        assert ((ours >= 0) & (ours <= 1)).all()
        assert np.abs(ours - batched).max() <= TOLERANCE
        assert np.abs(ours - single).max() <= TOLERANCE


def test_reranker_over_long_body_cut_from_its_end(
    tiny_reranker_path: str, reference_reranker: ReferenceReranker, caplog: pytest.LogCaptureFixture
) -> None:
    reranker = _not_yet_warned(Qwen3Reranker.load(tiny_reranker_path, dtype="float32", max_length=120))
    with caplog.at_level(logging.WARNING, logger="qwen3_rag"):
        ours = np.array(reranker.score("a query", DOCUMENTS))
    assert sum("max_length=120" in r.getMessage() for r in caplog.records) == 1
    expected = np.array(reference_reranker.score("a query", DOCUMENTS, max_length=120))
    assert np.abs(ours - expected).max() <= TOLERANCE
    prefix, suffix = reference_reranker.prefix_tokens, reference_reranker.suffix_tokens
    for ids in reranker.encode_ids(["<Instruct>: x\n<Query>: y\n<Document>: " + "long " * 200]):
        assert len(ids) == 120
        assert ids[: len(prefix)] == prefix and ids[-len(suffix) :] == suffix


async def test_reranker_async_equals_sync(tiny_reranker_path: str) -> None:
    reranker = Qwen3Reranker.load(tiny_reranker_path, dtype="float32")
    assert await reranker.ascore("q", DOCUMENTS) == reranker.score("q", DOCUMENTS)
