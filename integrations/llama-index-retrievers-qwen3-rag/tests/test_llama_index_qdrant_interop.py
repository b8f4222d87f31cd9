"""llama-index-vector-stores-qdrant's own ``QdrantVectorStore`` on qwen3-rag collections, and back.

Real ``llama-index-vector-stores-qdrant`` on embedded Qdrant with the tiny models. Dense search is
compared with ``QdrantStore.query``. LlamaIndex's hybrid search runs the dense and the sparse
query separately and fuses them in Python: with ``hybrid_fusion_fn=reciprocal_rank_fusion`` (ours)
it equals ``QdrantStore.query(sparse=...)`` (Qdrant's RRF), scores included; with the store's
default relative score fusion the order differs by design, so there its two legs are compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQueryResult
from llama_index.embeddings.qwen3_rag import Qwen3Embedding
from llama_index.retrievers.qwen3_rag import (
    qwen3_sparse_doc_fn,
    qwen3_sparse_query_fn,
    reciprocal_rank_fusion,
)
from llama_index.vector_stores.qdrant import QdrantVectorStore
from llama_index.vector_stores.qdrant.utils import relative_score_fusion
from qdrant_client import QdrantClient, models

from integrations.tests.adapter_support import K, ModelPair, ingested_store, our_sparse_leg, ours, sparse_docs
from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import QdrantStore, TwoStageRetriever
from qwen3_rag.pipeline._sparse import sparse_vectors
from tests.support.texts import INTEROP_DOCS as DOCS
from tests.support.texts import INTEROP_QUERIES as QUERIES


@pytest.fixture(scope="module")  # models_: integrations/conftest.py
def store(tmp_path_factory: pytest.TempPathFactory, models_: ModelPair) -> QdrantStore:
    return ingested_store(tmp_path_factory, "li-interop", DOCS, models_[0])


@pytest.fixture(scope="module")
def embed_model(models_: tuple[Qwen3Embedder, Qwen3Reranker]) -> Qwen3Embedding:
    return Qwen3Embedding(models_[0])


def vector_store(
    store: QdrantStore, embed_model: Qwen3Embedding, *, hybrid: bool, **kw: object
) -> QdrantVectorStore:
    """The documented constructor arguments for LlamaIndex's own Qdrant store."""
    if not hybrid:
        return QdrantVectorStore(
            store.collection, client=store.client, dense_vector_name="dense", text_key="text"
        )
    return QdrantVectorStore(
        store.collection,
        client=store.client,
        dense_vector_name="dense",
        sparse_vector_name="sparse",
        text_key="text",
        enable_hybrid=True,
        sparse_doc_fn=qwen3_sparse_doc_fn(embed_model),
        sparse_query_fn=qwen3_sparse_query_fn(embed_model),
        **kw,  # type: ignore[arg-type]
    )


def search(
    vs: QdrantVectorStore, embed_model: Qwen3Embedding, query: str, mode: str = "default"
) -> list[NodeWithScore]:
    index = VectorStoreIndex.from_vector_store(vs, embed_model=embed_model)
    return index.as_retriever(similarity_top_k=K, vector_store_query_mode=mode).retrieve(query)


# --------------------------------------------------------------------------- the sparse encoder
def test_sparse_fns_are_our_sparse_vectors(
    models_: tuple[Qwen3Embedder, Qwen3Reranker], embed_model: Qwen3Embedding, tiny_embedding_path: str
) -> None:
    embedder = models_[0]
    texts, docs = sparse_docs(embedder)
    query = sparse_vectors(embedder.tokenizer, QUERIES, query=True)
    for source in (tiny_embedding_path, Path(tiny_embedding_path), embedder, embed_model, embedder.tokenizer):
        assert qwen3_sparse_doc_fn(source)(texts) == ([v.indices for v in docs], [v.values for v in docs])
        assert qwen3_sparse_query_fn(source)(QUERIES) == (
            [v.indices for v in query],
            [v.values for v in query],
        )
    with pytest.raises(InvalidOptionError, match="tokenizer source"):
        qwen3_sparse_doc_fn(3.5)


def test_rrf_fusion_matches_qdrant_client() -> None:
    from qdrant_client.hybrid.fusion import reciprocal_rank_fusion as qdrant_rrf

    dense_ids, sparse_ids = ["a", "b", "c", "d"], ["c", "e", "a"]

    def result(ids: list[str]) -> VectorStoreQueryResult:
        return VectorStoreQueryResult(
            nodes=[TextNode(id_=i, text=i) for i in ids], similarities=[1.0] * len(ids), ids=ids
        )

    def points(ids: list[str]) -> list[models.ScoredPoint]:
        return [models.ScoredPoint(id=i, version=0, score=1.0) for i in ids]

    fused = reciprocal_rank_fusion(result(dense_ids), result(sparse_ids), top_k=5, alpha=0.9)
    expected = qdrant_rrf([points(dense_ids), points(sparse_ids)], limit=5)
    # Qdrant's scores; its order but for ties ("a" and "c" tie), which go by id as in our store.
    assert dict(zip(fused.ids or [], fused.similarities or [], strict=True)) == pytest.approx(
        {p.id: p.score for p in expected}
    )
    assert fused.ids == [p.id for p in sorted(expected, key=lambda p: (-round(p.score, 6), str(p.id)))]
    assert fused.ids[:2] == ["a", "c"]
    assert [n.node_id for n in fused.nodes or []] == fused.ids


# --------------------------------------------------------------------------- our collection there
@pytest.mark.parametrize("query", QUERIES)
def test_dense_equals_our_store(
    store: QdrantStore, embed_model: Qwen3Embedding, models_: tuple[Qwen3Embedder, Qwen3Reranker], query: str
) -> None:
    expected = ours(store, models_[0], query, hybrid=False)
    assert len(expected) == K
    for hybrid in (False, True):  # the hybrid-enabled store's default mode is its dense leg
        nodes = search(vector_store(store, embed_model, hybrid=hybrid), embed_model, query)
        assert [n.node.get_content() for n in nodes] == [h.text for h in expected]
        assert [n.node.node_id for n in nodes] == [h.id for h in expected]
        assert [n.score for n in nodes] == pytest.approx([h.score for h in expected], abs=1e-6)
        assert [n.node.metadata for n in nodes] == [
            {"source": h.source, "chunk_index": h.chunk_index, "content_hash": h.payload["content_hash"]}
            for h in expected
        ]


@pytest.mark.parametrize("query", QUERIES)
def test_hybrid_with_our_fusion_equals_our_hybrid_search(
    store: QdrantStore, embed_model: Qwen3Embedding, models_: tuple[Qwen3Embedder, Qwen3Reranker], query: str
) -> None:
    vs = vector_store(store, embed_model, hybrid=True, hybrid_fusion_fn=reciprocal_rank_fusion)
    nodes = search(vs, embed_model, query, "hybrid")
    expected = ours(store, models_[0], query, hybrid=True)
    assert [n.node.get_content() for n in nodes] == [h.text for h in expected]
    assert [n.node.node_id for n in nodes] == [h.id for h in expected]
    assert [n.score for n in nodes] == pytest.approx([h.score for h in expected], abs=1e-9)


@pytest.mark.parametrize("query", QUERIES)
def test_default_fusion_legs_equal_ours(
    store: QdrantStore, embed_model: Qwen3Embedding, models_: tuple[Qwen3Embedder, Qwen3Reranker], query: str
) -> None:
    """Without our fusion the store fuses by relative score: its legs are still our searches."""
    vs = vector_store(store, embed_model, hybrid=True)
    sparse = our_sparse_leg(store, models_[0], query)
    assert sparse, "the sparse leg found nothing: the test corpus no longer shares terms with the query"
    got_sparse = search(vs, embed_model, query, "sparse")
    assert [n.node.node_id for n in got_sparse] == [h.id for h in sparse]
    assert [n.score for n in got_sparse] == pytest.approx([h.score for h in sparse], abs=1e-6)
    # The default hybrid result is relative_score_fusion over exactly those two legs.
    dense = ours(store, models_[0], query, hybrid=False)
    as_result = [
        VectorStoreQueryResult(
            nodes=[TextNode(id_=h.id, text=h.text) for h in hits],
            similarities=[h.score for h in hits],
            ids=[h.id for h in hits],
        )
        for hits in (dense, sparse)
    ]
    fused = relative_score_fusion(as_result[0], as_result[1], alpha=0.5, top_k=K)
    hybrid = search(vs, embed_model, query, "hybrid")
    assert [n.node.node_id for n in hybrid] == [n.node_id for n in fused.nodes or []]
    assert [n.score for n in hybrid] == pytest.approx(fused.similarities)


def test_metadata_filters_on_source(store: QdrantStore, embed_model: Qwen3Embedding) -> None:
    source = (Path(store.root) / "ops.md").resolve().as_posix()  # type: ignore[attr-defined]
    index = VectorStoreIndex.from_vector_store(
        vector_store(store, embed_model, hybrid=True), embed_model=embed_model
    )
    for mode in ("default", "hybrid"):
        nodes = index.as_retriever(
            similarity_top_k=K,
            vector_store_query_mode=mode,
            filters=MetadataFilters.from_dicts([{"key": "source", "value": source}]),
        ).retrieve("capital of France")
        assert [n.node.metadata["source"] for n in nodes] == [source]


# --------------------------------------------------------------------------- the other way round
def llama_index_collection(embed_model: Qwen3Embedding) -> QdrantVectorStore:
    vs = QdrantVectorStore(
        "li",
        client=QdrantClient(location=":memory:"),
        dense_vector_name="dense",
        sparse_vector_name="sparse",
        enable_hybrid=True,
        sparse_doc_fn=qwen3_sparse_doc_fn(embed_model),
        sparse_query_fn=qwen3_sparse_query_fn(embed_model),
        hybrid_fusion_fn=reciprocal_rank_fusion,
        sparse_config=models.SparseVectorParams(modifier=models.Modifier.IDF),
    )
    nodes = [
        TextNode(id_=f"00000000-0000-0000-0000-{i:012d}", text=text, metadata={"source": name})
        for i, (name, text) in enumerate(DOCS.items())
    ]
    VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=vs), embed_model=embed_model
    )
    return vs


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")
@pytest.mark.parametrize("hybrid", [False, True])
def test_our_retriever_on_a_llama_index_collection(
    embed_model: Qwen3Embedding, models_: tuple[Qwen3Embedder, Qwen3Reranker], hybrid: bool
) -> None:
    """Our first stage (vectors, flat ``source`` filters) and the rerank: the text, inside the
    ``_node_content`` JSON, is read from there."""
    vs = llama_index_collection(embed_model)
    embedder, reranker = models_
    ours_store = QdrantStore("li", client=vs.client)
    query = QUERIES[0]
    hits = ours(ours_store, embedder, query, hybrid=hybrid)
    theirs = search(vs, embed_model, query, "hybrid" if hybrid else "default")
    assert [h.id for h in hits] == [n.node.node_id for n in theirs]
    assert [h.payload["source"] for h in hits] == [n.node.metadata["source"] for n in theirs]
    assert [h.text for h in hits] == [n.node.get_content() for n in theirs]
    assert "_node_content" in hits[0].payload and "text" not in hits[0].payload
    retriever = TwoStageRetriever.from_collection(
        ours_store, embedding_model=embedder, reranker=reranker, top_k=K, top_n=3, hybrid=hybrid
    )
    filtered = retriever.retrieve(query, filters={"source": "tea.txt"})
    assert [r.source for r in filtered] == ["tea.txt"]
    assert [r.text for r in filtered] == [DOCS["tea.txt"]]
    results = retriever.retrieve(query)  # reranked on the real texts
    expected = reranker.score(query, [r.text for r in results])
    assert [r.rerank_score for r in results] == pytest.approx(expected, abs=1e-6)
    assert all(r.text in DOCS.values() for r in results)
