"""langchain-qdrant's own ``QdrantVectorStore`` on qwen3-rag collections, and the other way round.

Real ``langchain-qdrant`` on embedded Qdrant with the tiny models. Each framework search is
compared with the same search done by our store: dense with ``QdrantStore.query``; hybrid with
``QdrantStore.query(sparse=...)`` (both use Qdrant's RRF over a dense and a sparse prefetch of the
same limit, so the fused lists are equal); sparse-only with the sparse leg of that query.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_qdrant import QdrantVectorStore, RetrievalMode, SparseEmbeddings
from langchain_qwen3_rag import Qwen3Embeddings, Qwen3RagQdrantVectorStore, Qwen3SparseEmbeddings
from qdrant_client import QdrantClient, models

from integrations.tests.adapter_support import K, ModelPair, ingested_store, our_sparse_leg, ours, sparse_docs
from qwen3_rag import InvalidOptionError, Qwen3Embedder, Qwen3Reranker
from qwen3_rag.pipeline import Ingestor, QdrantStore, TwoStageRetriever
from qwen3_rag.pipeline._layout import Hit
from qwen3_rag.pipeline._sparse import sparse_vectors
from tests.support.texts import INTEROP_DOCS as DOCS
from tests.support.texts import INTEROP_QUERIES as QUERIES


@pytest.fixture(scope="module")  # models_: integrations/conftest.py
def store(tmp_path_factory: pytest.TempPathFactory, models_: ModelPair) -> QdrantStore:
    return ingested_store(tmp_path_factory, "lc-interop", DOCS, models_[0])


@pytest.fixture(scope="module")
def embeddings(models_: tuple[Qwen3Embedder, Qwen3Reranker]) -> Qwen3Embeddings:
    return Qwen3Embeddings(model=models_[0])


def plain_store(store: QdrantStore, embeddings: Qwen3Embeddings, mode: RetrievalMode) -> QdrantVectorStore:
    """The documented constructor arguments for langchain-qdrant's own store."""
    return QdrantVectorStore(
        client=store.client,
        collection_name=store.collection,
        embedding=embeddings if mode != RetrievalMode.SPARSE else None,
        sparse_embedding=Qwen3SparseEmbeddings(model=embeddings),
        retrieval_mode=mode,
        vector_name="dense",
        sparse_vector_name="sparse",
        content_payload_key="text",
    )


def both_searches(
    store: QdrantStore, embeddings: Qwen3Embeddings, embedder: Qwen3Embedder, query: str, mode: RetrievalMode
) -> tuple[list[tuple[Document, float]], list[Hit]]:
    """langchain-qdrant's search in ``mode`` and ours for the same query (sparse: our sparse leg)."""
    results = plain_store(store, embeddings, mode).similarity_search_with_score(query, k=K)
    if mode == RetrievalMode.SPARSE:
        return results, our_sparse_leg(store, embedder, query)
    return results, ours(store, embedder, query, hybrid=mode == RetrievalMode.HYBRID)


# --------------------------------------------------------------------------- the sparse encoder
def test_sparse_embeddings_are_our_sparse_vectors(
    models_: tuple[Qwen3Embedder, Qwen3Reranker], embeddings: Qwen3Embeddings, tiny_embedding_path: str
) -> None:
    embedder = models_[0]
    texts, expected_docs = sparse_docs(embedder)
    expected_query = sparse_vectors(embedder.tokenizer, [QUERIES[0]], query=True)[0]
    for source in (tiny_embedding_path, Path(tiny_embedding_path), embedder, embeddings, embedder.tokenizer):
        sparse = Qwen3SparseEmbeddings(model=source)
        assert isinstance(sparse, SparseEmbeddings)
        got = sparse.embed_documents(texts)
        assert [(v.indices, v.values) for v in got] == [(e.indices, e.values) for e in expected_docs]
        query = sparse.embed_query(QUERIES[0])
        assert (query.indices, query.values) == (expected_query.indices, expected_query.values)


async def test_sparse_embeddings_async(embeddings: Qwen3Embeddings) -> None:
    sparse = Qwen3SparseEmbeddings(model=embeddings)
    assert await sparse.aembed_documents(["Paris"]) == sparse.embed_documents(["Paris"])
    assert await sparse.aembed_query("Paris") == sparse.embed_query("Paris")


def test_sparse_embeddings_reject_an_unknown_source() -> None:
    with pytest.raises(InvalidOptionError, match="tokenizer source"):
        Qwen3SparseEmbeddings(model=42)


# --------------------------------------------------------------------------- our collection there
@pytest.mark.parametrize("query", QUERIES)
def test_dense_mode_equals_our_store(
    store: QdrantStore, embeddings: Qwen3Embeddings, models_: tuple[Qwen3Embedder, Qwen3Reranker], query: str
) -> None:
    results, expected = both_searches(store, embeddings, models_[0], query, RetrievalMode.DENSE)
    assert len(expected) == K
    assert [d.page_content for d, _ in results] == [h.text for h in expected]
    assert [d.metadata["_id"] for d, _ in results] == [h.id for h in expected]
    assert [s for _, s in results] == pytest.approx([h.score for h in expected], abs=1e-6)


@pytest.mark.parametrize("query", QUERIES)
def test_hybrid_mode_equals_our_hybrid_search(
    store: QdrantStore, embeddings: Qwen3Embeddings, models_: tuple[Qwen3Embedder, Qwen3Reranker], query: str
) -> None:
    results, expected = both_searches(store, embeddings, models_[0], query, RetrievalMode.HYBRID)
    assert [s for _, s in results] == pytest.approx([h.score for h in expected], abs=1e-9)
    # Fusion ties (equal scores) have no order in Qdrant's API, and Qdrant's engines break them
    # differently; our store orders them by id. Each tie group holds the same texts, but for the
    # last, which the cut at k may split anywhere.
    assert tie_groups([(d.page_content, s) for d, s in results]) == tie_groups(
        [(h.text, h.score) for h in expected]
    )


def tie_groups(ranked: list[tuple[str, float]]) -> list[set[str]]:
    groups: dict[float, set[str]] = {}
    for text, score in ranked:
        groups.setdefault(round(score, 6), set()).add(text)
    return [groups[s] for s in sorted(groups, reverse=True)][:-1]


@pytest.mark.parametrize("query", QUERIES)
def test_sparse_mode_equals_our_sparse_leg(
    store: QdrantStore, embeddings: Qwen3Embeddings, models_: tuple[Qwen3Embedder, Qwen3Reranker], query: str
) -> None:
    results, expected = both_searches(store, embeddings, models_[0], query, RetrievalMode.SPARSE)
    assert expected, "the sparse leg found nothing: the test corpus no longer shares terms with the query"
    assert [d.page_content for d, _ in results] == [h.text for h in expected]
    assert [s for _, s in results] == pytest.approx([h.score for h in expected], abs=1e-6)


def test_metadata_plain_store_and_subclass(
    store: QdrantStore, embeddings: Qwen3Embeddings, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    query = QUERIES[0]
    expected = ours(store, models_[0], query, hybrid=True)
    # The plain store reads metadata from one nested key that a flat qwen3-rag payload lacks.
    plain = plain_store(store, embeddings, RetrievalMode.HYBRID).similarity_search(query, k=K)
    assert [set(d.metadata) for d in plain] == [{"_id", "_collection_name"}] * K
    # The subclass gives the flat payload (all but the text) as metadata; same search otherwise.
    for mode in (RetrievalMode.DENSE, RetrievalMode.SPARSE, RetrievalMode.HYBRID):
        sub = Qwen3RagQdrantVectorStore.from_collection(
            store,
            embedding=embeddings if mode != RetrievalMode.SPARSE else None,
            sparse_embedding=Qwen3SparseEmbeddings(model=embeddings)
            if mode == RetrievalMode.SPARSE
            else None,
            retrieval_mode=mode,
        )
        assert [d.page_content for d in sub.similarity_search(query, k=K)] == [
            d.page_content for d in plain_store(store, embeddings, mode).similarity_search(query, k=K)
        ]
    scored = Qwen3RagQdrantVectorStore.from_collection(
        store, embedding=embeddings, retrieval_mode=RetrievalMode.HYBRID
    ).similarity_search_with_score(query, k=K)
    # The same fusion scores; ties (unordered in Qdrant's API) compared as groups: see tie_groups.
    assert tie_groups([(d.page_content, s) for d, s in scored]) == tie_groups(
        [(h.text, h.score) for h in expected]
    )
    by_text = {h.text: h for h in expected}
    docs = [d for d, _ in scored if d.page_content in by_text]
    for doc, hit in ((d, by_text[d.page_content]) for d in docs):
        assert doc.metadata == {
            "source": hit.source,
            "chunk_index": hit.chunk_index,
            "content_hash": hit.payload["content_hash"],
            "_id": hit.id,
            "_collection_name": "kb",
        }


def test_filter_on_source_and_retriever(store: QdrantStore, embeddings: Qwen3Embeddings) -> None:
    source = (Path(store.root) / "ops.md").resolve().as_posix()  # type: ignore[attr-defined]
    only = models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
    vectors = Qwen3RagQdrantVectorStore.from_collection(
        store, embedding=embeddings, retrieval_mode=RetrievalMode.HYBRID
    )
    docs = vectors.similarity_search("capital of France", k=K, filter=only)
    assert [d.metadata["source"] for d in docs] == [source]
    retrieved = vectors.as_retriever(search_kwargs={"k": 2}).invoke("rotate the API key")
    assert len(retrieved) == 2


def test_wrong_dimensions_are_refused(
    store: QdrantStore, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    from langchain_qdrant.qdrant import QdrantVectorStoreError

    full = Qwen3Embeddings(model=models_[0].with_options(dimensions=64))
    with pytest.raises(QdrantVectorStoreError, match="32 dimensions"):
        plain_store(store, full, RetrievalMode.DENSE)


# --------------------------------------------------------------------------- the other way round
def langchain_collection(embeddings: Qwen3Embeddings, content_key: str) -> QdrantVectorStore:
    names = list(DOCS)
    return QdrantVectorStore.from_texts(
        list(DOCS.values()),
        embeddings,
        metadatas=[{"source": name} for name in names],
        ids=[f"00000000-0000-0000-0000-{i:012d}" for i in range(len(names))],
        location=":memory:",
        collection_name="lc",
        retrieval_mode=RetrievalMode.HYBRID,
        sparse_embedding=Qwen3SparseEmbeddings(model=embeddings),
        vector_name="dense",
        sparse_vector_name="sparse",
        content_payload_key=content_key,
        sparse_vector_params={"modifier": models.Modifier.IDF},
    )


@pytest.mark.parametrize("hybrid", [False, True])
def test_our_retriever_reranks_a_langchain_collection_written_with_text_key(
    embeddings: Qwen3Embeddings, models_: tuple[Qwen3Embedder, Qwen3Reranker], hybrid: bool
) -> None:
    lc = langchain_collection(embeddings, content_key="text")
    embedder, reranker = models_
    ours_store = QdrantStore("lc", client=lc.client)
    retriever = TwoStageRetriever.from_collection(
        ours_store, embedding_model=embedder, reranker=reranker, top_k=K, top_n=3, hybrid=hybrid
    )
    query = QUERIES[0]
    results = retriever.retrieve(query)
    first_stage = (
        [d.page_content for d in lc.similarity_search(query, k=K)]
        if hybrid
        else [
            d.page_content
            for d in QdrantVectorStore(
                client=lc.client,
                collection_name="lc",
                embedding=embeddings,
                vector_name="dense",
                content_payload_key="text",
            ).similarity_search(query, k=K)
        ]
    )
    scores = reranker.score(query, first_stage)
    best = sorted(range(len(first_stage)), key=lambda i: -scores[i])[:3]
    assert [r.text for r in results] == [first_stage[i] for i in best]
    assert [r.rerank_score for r in results] == pytest.approx([scores[i] for i in best], abs=1e-6)
    # LangChain nests the source: payload["metadata"]["source"], read as the source.
    assert [r.source for r in results] == [r.payload["metadata"]["source"] for r in results]
    assert {r.source for r in results} <= set(DOCS)
    # Filters reach the nested metadata by Qdrant's dotted key.
    filtered = retriever.retrieve(query, filters={"metadata.source": "tea.txt"})
    assert [r.text for r in filtered] == [DOCS["tea.txt"]]


def test_default_langchain_text_key_is_read_by_our_retriever(
    embeddings: Qwen3Embeddings, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    """LangChain's default ``page_content`` key: our store reads the text there too, so the
    reranker scores the real passages."""
    lc = langchain_collection(embeddings, content_key="page_content")
    hits = ours(QdrantStore("lc", client=lc.client), models_[0], QUERIES[0], hybrid=True)
    assert len(hits) == K
    assert [h.text for h in hits] == [h.payload["page_content"] for h in hits]
    assert all(h.text in DOCS.values() for h in hits)


def test_an_embedded_folder_is_shared_through_our_client(
    tmp_path: Path, models_: tuple[Qwen3Embedder, Qwen3Reranker]
) -> None:
    """An embedded folder admits one client: the framework store takes our store's client (a folder in
    qdrant-client's local mode: LangChain's store cannot read a Qdrant Edge folder, and says so)."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "tea.txt").write_text(DOCS["tea.txt"], encoding="utf-8")
    with QdrantStore("kb", path=tmp_path / "edge") as edge:
        Ingestor(edge, models_[0], progress=False).ingest([tmp_path / "docs"])
        with pytest.raises(AttributeError, match=r"runs on Qdrant Edge.*store push"):
            Qwen3RagQdrantVectorStore.from_collection(edge, embedding=Qwen3Embeddings(model=models_[0]))
    with QdrantStore("kb", path=tmp_path / "qdrant", engine="local") as store:
        Ingestor(store, models_[0], progress=False).ingest([tmp_path / "docs"])
        assert isinstance(store.client, QdrantClient)
        vectors = Qwen3RagQdrantVectorStore.from_collection(
            store, embedding=Qwen3Embeddings(model=models_[0]), retrieval_mode=RetrievalMode.HYBRID
        )
        assert [d.page_content for d in vectors.similarity_search("tea", k=3)] == [DOCS["tea.txt"]]
