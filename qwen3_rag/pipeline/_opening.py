"""Opening a collection and its models for retrieval, in one place: the CLI, both frameworks'
retrievers and the examples all come here through ``TwoStageRetriever.from_collection``
(:func:`open_collection` does the work; the retriever module builds the retriever on it).

The one rule for the embedding model: a collection records the model and Matryoshka size that
made its vectors. Without a model, that model at that size is used; with the same model (by
identity), the recorded size unless another is given; with another model, its full size unless
given, and the store's check then refuses a mismatch with a message saying what to use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._runtime import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL, Qwen3Embedder, Qwen3Reranker
from ._store import DEFAULT_COLLECTION, EmbeddingSpec, QdrantStore, model_identity

ModelRef = str | os.PathLike[str]


def load_embedder_for(
    recorded: EmbeddingSpec | None,
    model: ModelRef | Qwen3Embedder | None = None,
    *,
    dimensions: int | None = None,
    **load_options: Any,
) -> Qwen3Embedder:
    """The embedder for a collection recorded as ``recorded`` (``None``: a new collection).

    A loaded ``Qwen3Embedder`` is used as it is (with ``dimensions``, a view of that size).
    ``load_options`` go to :meth:`Qwen3Embedder.load` (``device``, ``dtype``, ``base_url`` ...).
    """
    if isinstance(model, Qwen3Embedder):
        return model if dimensions is None else model.with_options(dimensions=dimensions)
    name = os.fspath(model) if model is not None else None
    if recorded is not None and (name is None or model_identity(name) == model_identity(recorded.model)):
        name = name or recorded.model
        dimensions = dimensions or recorded.dimensions
    return Qwen3Embedder.load(name or DEFAULT_EMBEDDING_MODEL, dimensions=dimensions, **load_options)


def open_store(
    store: QdrantStore | str = DEFAULT_COLLECTION,
    *,
    qdrant_path: str | os.PathLike[str] | None = None,
    qdrant_url: str | None = None,
    qdrant_api_key: str | None = None,
) -> QdrantStore:
    """``store`` itself, or the collection of that name (embedded by default; never created here)."""
    if isinstance(store, QdrantStore):
        return store
    if qdrant_url:
        return QdrantStore(store, url=qdrant_url, api_key=qdrant_api_key)
    return QdrantStore(store, path=qdrant_path, create=False)


def open_collection(
    store: QdrantStore | str = DEFAULT_COLLECTION,
    *,
    qdrant_path: str | os.PathLike[str] | None = None,
    qdrant_url: str | None = None,
    qdrant_api_key: str | None = None,
    embedding_model: ModelRef | Qwen3Embedder | None = None,
    reranker: ModelRef | Qwen3Reranker = DEFAULT_RERANKER_MODEL,
    dimensions: int | None = None,
    device: str | None = "auto",
    dtype: str | None = "auto",
    embedding_options: Mapping[str, Any] | None = None,
    reranker_options: Mapping[str, Any] | None = None,
    recorded: EmbeddingSpec | None = None,
) -> tuple[QdrantStore, Qwen3Embedder, Qwen3Reranker]:
    """An existing collection with its two models, ready for a retriever.

    Opens the store (a missing collection fails before any model loads), picks the embedding
    model and size the collection was made with (see the module docstring), checks the spec
    once, loads or connects the reranker. ``embedding_options`` / ``reranker_options`` go to the
    models' ``load`` (e.g. ``{"base_url": ...}``; ``device=None`` / ``dtype=None`` leave those to
    them, as a remote model takes neither). ``recorded``: what the caller's own ``store.open()``
    returned, so that the collection is not read again.
    """
    opened = open_store(store, qdrant_path=qdrant_path, qdrant_url=qdrant_url, qdrant_api_key=qdrant_api_key)
    if recorded is None:
        recorded = opened.open()
    common = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwen3-rag-load") as pool:
        # The two loads overlap (reading weights, building the model); the embedder's check against
        # the collection runs while the reranker is still loading.
        reranker_loading = (
            None
            if isinstance(reranker, Qwen3Reranker)
            else pool.submit(
                Qwen3Reranker.load, os.fspath(reranker), **{**common, **(reranker_options or {})}
            )
        )
        embedder = load_embedder_for(
            recorded, embedding_model, dimensions=dimensions, **{**common, **(embedding_options or {})}
        )
        opened.open(EmbeddingSpec.for_embedder(embedder), recorded=recorded)
        if reranker_loading is not None:
            reranker = reranker_loading.result()
    assert isinstance(reranker, Qwen3Reranker)
    return opened, embedder, reranker
