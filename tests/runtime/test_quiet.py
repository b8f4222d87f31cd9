"""Ordinary embedding and reranking print nothing: no library warnings, only our own truncation notice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._runtime.prefix_cache import scorer_for
from qwen3_rag.testing import write_tiny_checkpoints

pytestmark = pytest.mark.models  # its fixtures build their own checkpoints

DOCS = [
    "Paris is the capital of France.",
    "Bananas are yellow and rich in potassium, which muscles need.",
    "A vector database stores embeddings for similarity search.",
    "x",
    "Qdrant is a vector database. " * 6,
]
QUERIES = ["capital of France?", "yellow fruit", "vector search engine"]
# Longer than max_length below and than the tokenizers' model_max_length (32768).
LONG = "word " * 40_000


@dataclass
class Captured:
    warnings: list[warnings.WarningMessage]
    caplog: pytest.LogCaptureFixture

    def messages(self) -> list[str]:
        found = [f"{w.category.__name__}: {w.message}" for w in self.warnings]
        records = [r for r in self.caplog.records if r.levelno >= logging.WARNING]
        return found + [f"{r.name}: {r.getMessage()}" for r in records]


@contextlib.contextmanager
def capture(caplog: pytest.LogCaptureFixture) -> Iterator[Captured]:
    """Every warning and every WARNING log record, transformers' once-only ones included."""
    import transformers.utils.logging as hf_logging

    # transformers' loggers do not propagate to the root (outside CI) and ``warning_once``
    # remembers messages process-wide: listen on its logger and forget what other tests saw.
    hf_logging.warning_once.cache_clear()
    hf_root = logging.getLogger("transformers")
    hf_root.addHandler(caplog.handler)
    try:
        with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
            warnings.simplefilter("always")
            yield Captured(caught, caplog)
    finally:
        hf_root.removeHandler(caplog.handler)


@pytest.fixture
def models(tmp_path: Path) -> Iterator[tuple[Qwen3Embedder, Qwen3Reranker]]:
    """Models of their own, so no other test has already used up a warn-once."""
    paths = write_tiny_checkpoints(tmp_path)
    embedder = Qwen3Embedder.load(paths["embedding"], device="cpu", dtype="float32")
    reranker = Qwen3Reranker.load(paths["reranker"], device="cpu", dtype="float32")
    yield embedder, reranker
    embedder.close()
    reranker.close()


def test_embedding_is_quiet(
    models: tuple[Qwen3Embedder, Qwen3Reranker], caplog: pytest.LogCaptureFixture
) -> None:
    embedder, _ = models
    with capture(caplog) as captured:
        assert embedder.embed_documents(DOCS).shape == (len(DOCS), 64)
        assert embedder.embed_queries(QUERIES).shape == (len(QUERIES), 64)
        # The content is tokenized whole before the cut: no "longer than model_max_length" notice.
        assert len(embedder.procedure._content_ids([*DOCS, LONG])[-1]) + 1 > 32768
    assert captured.messages() == []


def test_reranking_with_the_prefix_cache_is_quiet(
    models: tuple[Qwen3Embedder, Qwen3Reranker], caplog: pytest.LogCaptureFixture
) -> None:
    _, reranker = models

    async def several_queries() -> list[list[float]]:  # coalesced into shared batches
        return await asyncio.gather(*(reranker.ascore(q, DOCS) for q in QUERIES))

    with capture(caplog) as captured:
        for query in QUERIES:
            assert len(reranker.score(query, DOCS)) == len(DOCS)
        assert len(reranker.score(QUERIES[0], DOCS)) == len(DOCS)  # reuses a cached prefix
        assert [len(s) for s in asyncio.run(several_queries())] == [len(DOCS)] * len(QUERIES)
    scorer = scorer_for(reranker.model)
    assert scorer is not None and scorer.stats["cached_batches"] >= 2 and scorer.stats["prefix_hits"] >= 1
    assert captured.messages() == []


def test_over_max_length_warns_only_about_truncation(
    models: tuple[Qwen3Embedder, Qwen3Reranker], caplog: pytest.LogCaptureFixture
) -> None:
    embedder, reranker = models
    with capture(caplog) as captured:
        embedder.with_options(max_length=64).embed_documents([DOCS[0], LONG])
        reranker.with_options(max_length=128).score(QUERIES[0], [DOCS[0], LONG, DOCS[1]])
    messages = captured.messages()
    assert len(messages) == 2, messages  # one per model: ours, and nothing from the libraries
    assert all(m.startswith("qwen3_rag.") and "longer than max_length" in m for m in messages), messages
