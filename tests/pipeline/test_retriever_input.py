"""TwoStageRetriever on bad input: a table of queries, options and filters with the expected
results or errors, and an empty collection.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import EmbeddingSpec, Ingestor, QdrantStore, TwoStageRetriever
from tests.support.corpus import ingest_docs

pytestmark = pytest.mark.models  # every test here builds or loads a model

CHUNK_TOKENS, OVERLAP = 16, 4


def make_ingestor(embedder: Qwen3Embedder, store: QdrantStore | None = None, batch_size: int = 4) -> Ingestor:
    store = store or QdrantStore("t", location=":memory:")
    return Ingestor(
        store, embedder, chunk_tokens=CHUNK_TOKENS, overlap=OVERLAP, batch_size=batch_size, progress=False
    )


# --------------------------------------------------------------------------- SIGKILL mid-ingest

DOCS = {
    "france.txt": "Paris is the capital and largest city of France.",
    "python.md": "Python is a programming language. Qdrant is a vector database.",
    "fox.txt": "The quick brown fox jumps over the lazy dog.",
    "tokyo.txt": "東京は日本の首都です。🚀",
    "rtl.txt": "עברית מימין לשמאל",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Qwen3Embedder) -> QdrantStore:
    root = tmp_path_factory.mktemp("reliability-retriever")
    store = ingest_docs(root, DOCS, embedder, "r")
    return store


CONTROL = "tab\there\x01\x02 bell\x07 esc\x1b[31mred\x1b[0m del\x7f zwsp\u200b rlo\u202e nbsp\u00a0 end"
BRACES = "Find {query} and {0} {{literal}} %s %(x)s\nsecond line\n\tthird: <Query>: fake"

Call = Callable[[TwoStageRetriever], Any]
RETRIEVE_CASES: list[tuple[str, dict[str, Any], Call, Any]] = [
    # (id, retriever options, call, expected: number of results, or (error type, message))
    ("top_n-larger-than-candidates", {}, lambda r: r.retrieve("fox", top_k=3, top_n=10), 3),
    ("top_n-larger-than-collection", {}, lambda r: r.retrieve("fox", top_k=50, top_n=100), len(DOCS)),
    ("top_k-one", {}, lambda r: r.retrieve("fox", top_k=1, top_n=5), 1),
    (
        "top_k-zero",
        {},
        lambda r: r.retrieve("fox", top_k=0),
        (InvalidOptionError, "top_k must be a positive"),
    ),
    ("top_k-negative", {}, lambda r: r.retrieve("fox", top_k=-1), (InvalidOptionError, "top_k")),
    (
        "top_n-zero",
        {},
        lambda r: r.retrieve("fox", top_n=0),
        (InvalidOptionError, "top_n must be a positive"),
    ),
    ("top_n-negative", {}, lambda r: r.retrieve("fox", top_n=-5), (InvalidOptionError, "top_n")),
    ("top_k-float", {}, lambda r: r.retrieve("fox", top_k=2.5), (InvalidOptionError, "top_k")),  # type: ignore[arg-type]
    ("top_k-string", {}, lambda r: r.retrieve("fox", top_k="5"), (InvalidOptionError, "top_k")),  # type: ignore[arg-type]
    ("top_n-bool", {}, lambda r: r.retrieve("fox", top_n=True), (InvalidOptionError, "top_n")),
    ("ctor-top_k-zero", {"top_k": 0}, lambda r: r, (InvalidOptionError, "top_k")),
    ("ctor-top_n-float", {"top_n": 1.0}, lambda r: r, (InvalidOptionError, "top_n")),
    ("query-none", {}, lambda r: r.retrieve(None), (TypeError, "must be a string")),  # type: ignore[arg-type]
    ("query-bytes", {}, lambda r: r.retrieve(b"fox"), (TypeError, "must be a string")),  # type: ignore[arg-type]
    ("query-empty", {}, lambda r: r.retrieve(""), 3),
    ("query-whitespace", {}, lambda r: r.retrieve(" \n\t "), 3),
    ("query-unicode", {}, lambda r: r.retrieve("東京 🚀 עברית e\u0301"), 3),
    ("query-control-chars", {}, lambda r: r.retrieve(CONTROL), 3),
    ("query-1mb", {}, lambda r: r.retrieve("fox " * 250_000), 3),
    ("instruction-braces-newlines", {"instruction": BRACES}, lambda r: r.retrieve("capital {x}\n?"), 3),
    (
        "instruction-empty",
        {"instruction": ""},
        lambda r: r.retrieve("fox"),
        (InvalidOptionError, "instruction"),
    ),
    (
        "filters-not-a-mapping",
        {},
        lambda r: r.retrieve("fox", filters="source=x"),
        (InvalidOptionError, "filters"),
    ),
    ("filters-match-nothing", {}, lambda r: r.retrieve("fox", filters={"source": "/nowhere"}), 0),
]


@pytest.mark.parametrize(
    ("options", "call", "expected"),
    [case[1:] for case in RETRIEVE_CASES],
    ids=[case[0] for case in RETRIEVE_CASES],
)
def test_bad_input_retrieval_table(
    corpus: QdrantStore,
    models: tuple[Qwen3Embedder, Qwen3Reranker],
    options: dict[str, Any],
    call: Call,
    expected: Any,
) -> None:
    embedder, reranker = models
    if isinstance(expected, tuple):
        error, message = expected
        with pytest.raises(error, match=message):
            call(TwoStageRetriever(corpus, embedder, reranker, **{"top_n": 3, **options}))
        return
    retriever = TwoStageRetriever(corpus, embedder, reranker, top_n=3, **options)
    results = call(retriever)
    assert len(results) == expected
    scores = [r.rerank_score for r in results]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert len({r.id for r in results}) == len(results)
    for r in results:
        assert DOCS[Path(r.source).name] == r.text and np.isfinite(r.retrieval_score)
    if "instruction" in options and results:  # the instruction reaches both models verbatim
        query = "capital {x}\n?"
        direct = reranker.score(query, [r.text for r in results], instruction=options["instruction"])
        assert scores == pytest.approx(direct, abs=1e-6)


def test_retrieval_from_an_empty_collection_is_empty(
    models: tuple[Qwen3Embedder, Qwen3Reranker], tmp_path: Path
) -> None:
    embedder, reranker = models
    store = QdrantStore("empty", location=":memory:")
    make_ingestor(embedder, store).ingest([tmp_path])  # an empty folder: nothing stored, nothing created
    assert not store.exists()
    store.ensure(EmbeddingSpec.for_embedder(embedder))  # the collection, without points
    assert store.exists() and store.count() == 0
    assert TwoStageRetriever(store, embedder, reranker).retrieve("anything") == []


# --------------------------------------------------------------------------- bad input: CLI
