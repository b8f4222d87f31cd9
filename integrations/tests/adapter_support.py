"""Checks and fixtures the adapter packages' tests share (LangChain and LlamaIndex alike).

Import as ``integrations.tests.adapter_support``; the checkout is on ``sys.path`` (the root conftest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import QdrantStore
from qwen3_rag.pipeline._layout import SPARSE_VECTOR, Hit
from qwen3_rag.pipeline._sparse import sparse_vectors
from tests.support.corpus import ingest_docs
from tests.support.texts import INTEROP_DOCS

# The tiny embedder and reranker, as the root conftest's `models` and integrations/conftest.py's `models_`.
ModelPair = tuple[Qwen3Embedder, Qwen3Reranker]

# Results per search in the interop tests (ours against the framework's own Qdrant store).
K = 5


def forbid_sync_calls(monkeypatch: pytest.MonkeyPatch, owner: type, *names: str) -> None:
    """Make ``owner.<name>`` fail the test: an async adapter call that falls back to the sync path."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the sync path ran inside an async call")

    for name in names:
        monkeypatch.setattr(owner, name, forbidden)


async def check_concurrent_queries_coalesce(
    embedder: Qwen3Embedder, aembed_query: Callable[[str], Awaitable[list[float]]]
) -> None:
    """32 concurrent async queries: 32 runtime requests in fewer passes, equal to the sync vectors."""
    stats = embedder.runtime.batcher.stats
    requests, passes = stats.requests, stats.forward_passes
    queries = [f"question number {i} about France" for i in range(32)]
    vectors = await asyncio.gather(*(aembed_query(q) for q in queries))
    assert stats.requests - requests == 32
    assert stats.forward_passes - passes < 32
    expected = embedder.embed_queries(queries)
    np.testing.assert_allclose(np.asarray(vectors, dtype=np.float32), expected, atol=1e-5)


def nan_rows_of_text_in_float16(
    reranker: Qwen3Reranker, texts: list[str], target: int
) -> torch.utils.hooks.RemovableHandle:
    """Hook the decoder so rows holding a token only ``texts[target]`` has come out NaN while the
    weights are float16 (an overflow, as the readout sees it); ``.remove()`` the handle after."""
    tokens = [set(reranker.tokenizer.encode(t, add_special_tokens=False)) for t in texts]
    marker = sorted(tokens[target].difference(*(s for i, s in enumerate(tokens) if i != target)))[0]

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: object) -> object:
        ids = kwargs.get("input_ids")
        if ids is not None and module.dtype == torch.float16:
            output.last_hidden_state[(ids == marker).any(dim=1)] = float("nan")  # type: ignore[attr-defined]
        return output

    return reranker.model.base_model.register_forward_hook(hook, with_kwargs=True)


# ---------------------------------------------------------------- stores
def ingested_store(
    tmp_path_factory: pytest.TempPathFactory, folder: str, docs: Mapping[str, str], embedder: Qwen3Embedder
) -> QdrantStore:
    """``docs`` written into a new folder and ingested into collection "kb" of a ``:memory:`` store;
    ``store.root`` is that folder (the tests name sources by it)."""
    root = tmp_path_factory.mktemp(folder)
    store = ingest_docs(root, docs, embedder, "kb")
    store.root = root  # type: ignore[attr-defined]
    return store


# ---------------------------------------------------------------- our searches, to compare with
def ours(store: QdrantStore, embedder: Qwen3Embedder, query: str, *, hybrid: bool) -> list[Hit]:
    """Our store's dense (or, with ``hybrid``, dense+sparse RRF) search for ``query``, ``K`` hits."""
    dense = embedder.embed_queries([query])[0]
    sparse = sparse_vectors(embedder.tokenizer, [query], query=True)[0] if hybrid else None
    return store.query(dense, limit=K, sparse=sparse)


def our_sparse_leg(store: QdrantStore, embedder: Qwen3Embedder, query: str) -> list[Hit]:
    """The sparse leg of our hybrid search alone, ``K`` hits."""
    sparse = sparse_vectors(embedder.tokenizer, [query], query=True)[0]
    response = store.client.query_points(
        store.collection, query=sparse, using=SPARSE_VECTOR, limit=K, with_payload=True
    )
    return [Hit.from_point(p) for p in response.points]


def sparse_docs(embedder: Qwen3Embedder) -> tuple[list[str], list[Any]]:
    """The interop documents, a text repeating one word in other cases and an empty text, with our
    sparse (document) vectors of them: what the frameworks' sparse encoders must give."""
    texts = [*INTEROP_DOCS.values(), "Paris paris PARIS, again: Paris!", ""]
    return texts, sparse_vectors(embedder.tokenizer, texts)


def assert_pep420_layout(package_root: Path, package: ModuleType, kind: str) -> None:
    """``llama_index`` and ``llama_index.<kind>`` are namespace packages (no ``__init__.py``), as
    LlamaIndex's integrations share them, and ``package`` is imported from ``package_root``."""
    assert not (package_root / "llama_index" / "__init__.py").exists()
    assert not (package_root / "llama_index" / kind / "__init__.py").exists()
    folder = package_root / "llama_index" / kind / package.__name__.rsplit(".", 1)[1]
    assert Path(str(package.__file__)).resolve().parent == folder
