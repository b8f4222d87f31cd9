"""Opening a collection and its models for retrieval, in one place: the CLI, both frameworks'
retrievers and the examples all come here through ``TwoStageRetriever.from_collection``
(:func:`open_collection` does the work; the retriever module builds the retriever on it).
Ingestion picks its embedder by the same rule: :func:`embedder_for_collection` (public; the
examples use it) and :func:`load_embedder_for` (the CLI, which reads the record itself).

The one rule for the embedding model: a collection records the model and Matryoshka size that
made its vectors. Without a model, that model at that size is used; with the same model (by
identity), the recorded size unless another is given; with another model, its full size unless
given, and the store's check then refuses a mismatch with a message saying what to use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .._runtime import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_RERANKER_MODEL,
    ModelOptions,
    Qwen3Embedder,
    Qwen3Reranker,
)
from ._store import DEFAULT_COLLECTION, EmbeddingSpec, QdrantStore, model_identity

ModelRef = str | os.PathLike[str]
# How a model runs: the value itself, or ``load``'s keyword options as a mapping.
LoadOptions = ModelOptions | Mapping[str, Any]
Model = TypeVar("Model", Qwen3Embedder, Qwen3Reranker)


def load_model(kind: type[Model], name: ModelRef, options: LoadOptions | None, **view: Any) -> Model:
    """``kind`` loaded with ``options``: a :class:`ModelOptions` as it is, or a mapping of
    :meth:`~Qwen3Embedder.load`'s keywords (the view's own, such as ``max_length``, allowed)."""
    if isinstance(options, ModelOptions):
        return kind.from_options(name, options, **view)
    return kind.load(name, **(options or {}), **view)


def load_embedder_for(
    recorded: EmbeddingSpec | None,
    model: ModelRef | Qwen3Embedder | None = None,
    *,
    dimensions: int | None = None,
    options: LoadOptions | None = None,
) -> Qwen3Embedder:
    """The embedder for a collection recorded as ``recorded`` (``None``: a new collection).

    A loaded ``Qwen3Embedder`` is used as it is (with ``dimensions``, a view of that size);
    a model name is loaded with ``options`` (see :func:`load_model`).
    """
    if isinstance(model, Qwen3Embedder):
        return model if dimensions is None else model.with_options(dimensions=dimensions)
    name = os.fspath(model) if model is not None else None
    if recorded is not None and (name is None or model_identity(name) == model_identity(recorded.model)):
        name = name or recorded.model
        dimensions = dimensions or recorded.dimensions
    return load_model(Qwen3Embedder, name or DEFAULT_EMBEDDING_MODEL, options, dimensions=dimensions)


def embedder_for_collection(
    store: QdrantStore,
    model: ModelRef | Qwen3Embedder | None = None,
    *,
    dimensions: int | None = None,
    **load_options: Any,
) -> Qwen3Embedder:
    """The embedder to ingest into or search ``store`` with, by the rule in the module docstring:
    the model and Matryoshka size the collection was made with when it exists and ``model`` is not
    another one; for a new collection ``model`` (default Qwen3-Embedding-0.6B) at ``dimensions``.

    ``load_options`` go to :meth:`Qwen3Embedder.load` (``device``, ``dtype``, ``base_url`` ...). The
    store's own check (``store.open(spec)``, which ingestion and retrieval run) refuses another
    model's vectors.
    """
    recorded = store.open() if store.exists() else None
    return load_embedder_for(recorded, model, dimensions=dimensions, options=load_options)


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
    embedding_options: LoadOptions | None = None,
    reranker_options: LoadOptions | None = None,
    recorded: EmbeddingSpec | None = None,
) -> tuple[QdrantStore, Qwen3Embedder, Qwen3Reranker]:
    """An existing collection with its two models, ready for a retriever.

    Opens the store (a missing collection fails before any model loads), picks the embedding
    model and size the collection was made with (see the module docstring), checks the spec
    once, loads or connects the reranker. ``embedding_options`` / ``reranker_options`` go to the
    models' ``load`` (e.g. ``{"base_url": ...}``; ``device=None`` / ``dtype=None`` leave those to
    them, as a remote model takes neither); a :class:`ModelOptions` is used as it is (its own
    device and dtype). ``recorded``: what the caller's own ``store.open()`` returned, so that the
    collection is not read again.
    """
    opened = open_store(store, qdrant_path=qdrant_path, qdrant_url=qdrant_url, qdrant_api_key=qdrant_api_key)
    if recorded is None:
        recorded = opened.open()
    common = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}

    def with_common(given: LoadOptions | None) -> LoadOptions:
        return given if isinstance(given, ModelOptions) else {**common, **(given or {})}

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwen3-rag-load") as pool:
        # The two loads overlap (reading weights, building the model); the embedder's check against
        # the collection runs while the reranker is still loading.
        reranker_loading = (
            None
            if isinstance(reranker, Qwen3Reranker)
            else pool.submit(
                load_model, Qwen3Reranker, os.fspath(reranker), with_common(reranker_options)
            )
        )
        embedder = load_embedder_for(
            recorded, embedding_model, dimensions=dimensions, options=with_common(embedding_options)
        )
        opened.open(EmbeddingSpec.for_embedder(embedder), recorded=recorded)
        if reranker_loading is not None:
            reranker = reranker_loading.result()
    assert isinstance(reranker, Qwen3Reranker)
    return opened, embedder, reranker
