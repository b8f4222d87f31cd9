"""qwen3-rag's tokenizer sparse vectors and its fusion, in the shape LlamaIndex's Qdrant store takes.

``llama_index.vector_stores.qdrant.QdrantVectorStore(sparse_doc_fn=..., sparse_query_fn=...,
hybrid_fusion_fn=...)``: the encoders return ``(indices per text, values per text)`` and give
exactly the vectors ``qwen3-rag ingest`` writes and ``TwoStageRetriever(hybrid=True)`` queries
with (:class:`qwen3_rag.pipeline.SparseEncoder`); :func:`reciprocal_rank_fusion` fuses the dense and the
sparse results as qwen3-rag's store does (Qdrant's RRF), where the store's default
(relative score fusion) gives another order. Only the tokenizer is loaded, no second model.

    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from llama_index.retrievers.qwen3_rag import (
        qwen3_sparse_doc_fn, qwen3_sparse_query_fn, reciprocal_rank_fusion,
    )

    vector_store = QdrantVectorStore(
        "qwen3_rag", client=client, enable_hybrid=True,
        dense_vector_name="dense", sparse_vector_name="sparse", text_key="text",
        sparse_doc_fn=qwen3_sparse_doc_fn(embed_model), sparse_query_fn=qwen3_sparse_query_fn(embed_model),
        hybrid_fusion_fn=reciprocal_rank_fusion,
    )
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import VectorStoreQueryResult

from qwen3_rag.pipeline import SparseEncoder

BatchSparseEncoding = tuple[list[list[int]], list[list[float]]]
"""``(indices per text, values per text)``, as ``llama-index-vector-stores-qdrant`` expects."""

SparseEncoderFn = Callable[[list[str]], BatchSparseEncoding]

RRF_K = 2
"""Qdrant's reciprocal rank fusion constant: a point at 0-based rank ``r`` adds ``1 / (r + RRF_K)``."""


def qwen3_sparse_doc_fn(model: Any) -> SparseEncoderFn:
    """The ``sparse_doc_fn``: document vectors (saturated term counts) from ``model``'s tokenizer.

    ``model``: the collection's embedding model as a Hub id or folder (only its tokenizer is
    loaded), a loaded ``qwen3_rag.Qwen3Embedder``, a ``Qwen3Embedding`` (LlamaIndex adapter), or
    a Hugging Face tokenizer.
    """
    return _encoder(SparseEncoder.for_model(model), query=False)


def qwen3_sparse_query_fn(model: Any) -> SparseEncoderFn:
    """The ``sparse_query_fn``: query vectors (1.0 per distinct term; Qdrant's IDF weighs them)."""
    return _encoder(SparseEncoder.for_model(model), query=True)


def _encoder(encoder: SparseEncoder, *, query: bool) -> SparseEncoderFn:
    def encode(texts: list[str]) -> BatchSparseEncoding:
        vectors = encoder.queries(texts) if query else encoder.documents(texts)
        return [list(v.indices) for v in vectors], [list(v.values) for v in vectors]

    return encode


def reciprocal_rank_fusion(
    dense_result: VectorStoreQueryResult,
    sparse_result: VectorStoreQueryResult,
    *,
    top_k: int | None = None,
    **_: Any,
) -> VectorStoreQueryResult:
    """A ``hybrid_fusion_fn`` fusing as qwen3-rag's store does: Qdrant's reciprocal rank fusion.

    Each result list is ranked in the order Qdrant returned it; a node scores the sum of
    ``1 / (rank + RRF_K)`` over the lists holding it; ties go by node id, as qwen3-rag's store
    orders them on every engine (Qdrant Edge, a server and qdrant-client's local mode break them
    differently). The similarity is that fused score. ``alpha`` (LlamaIndex's dense /
    sparse weight) does not apply to rank fusion and is ignored.
    """
    scores: dict[str, float] = {}
    nodes: dict[str, BaseNode] = {}
    for result in (dense_result, sparse_result):
        for rank, node in enumerate(result.nodes or []):
            nodes.setdefault(node.node_id, node)
            scores[node.node_id] = scores.get(node.node_id, 0.0) + 1.0 / (rank + RRF_K)
    ranked = sorted(scores.items(), key=lambda item: (-round(item[1], 6), item[0]))
    if top_k is not None:
        ranked = ranked[:top_k]
    return VectorStoreQueryResult(
        nodes=[nodes[i] for i, _ in ranked],
        similarities=[s for _, s in ranked],
        ids=[i for i, _ in ranked],
    )


def resolve_tokenizer(source: Any) -> Any:
    """The tokenizer of a model name or folder, a ``Qwen3Embedder``, an adapter, or a tokenizer."""
    return SparseEncoder.for_model(source).tokenizer


__all__ = [
    "RRF_K",
    "BatchSparseEncoding",
    "qwen3_sparse_doc_fn",
    "qwen3_sparse_query_fn",
    "reciprocal_rank_fusion",
    "resolve_tokenizer",
]
