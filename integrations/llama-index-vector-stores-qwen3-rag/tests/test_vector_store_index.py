"""``Qwen3RagVectorStore`` under LlamaIndex: ``VectorStoreIndex`` built from documents with metadata,
``MetadataFilters`` queries answered with exactly the matching nodes, every query mode, async.

Real parts: the tiny Qwen3 embedding checkpoint (``Qwen3Embedding``), LlamaIndex's own index and
splitter, Qdrant Edge (a fresh folder) and qdrant-client's ``:memory:``.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.embeddings.qwen3_rag import Qwen3Embedding
from llama_index.vector_stores.qwen3_rag import Qwen3RagVectorStore

from qwen3_rag import InvalidOptionError
from qwen3_rag.pipeline import QdrantStore

pytestmark = pytest.mark.models  # every test here builds or loads a model

# `store`: integrations/conftest.py (an empty collection on Qdrant Edge, then on :memory:).
DOCS = [
    Document(text="Rotate the API key every month.", id_="ops-keys", metadata={"team": "ops", "year": 2024}),
    Document(text="Deploys run on Fridays.", id_="ops-deploy", metadata={"team": "ops", "year": 2021}),
    Document(
        text="The style guide wants short names.", id_="dev-style", metadata={"team": "dev", "year": 2023}
    ),
    Document(
        text="Bananas are yellow.", id_="misc-fruit", metadata={"team": "misc", "year": 2019, "score": 0.5}
    ),
]


@pytest.fixture()
def embed_model(tiny_embedding_path: str) -> Qwen3Embedding:
    return Qwen3Embedding(model_name=tiny_embedding_path)


@pytest.fixture()
def index(store: QdrantStore, embed_model: Qwen3Embedding) -> VectorStoreIndex:
    vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
    context = StorageContext.from_defaults(vector_store=vector_store)
    return VectorStoreIndex.from_documents(DOCS, storage_context=context, embed_model=embed_model)


def _f(key: str, value: Any, op: str = "==") -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=FilterOperator(op))


CASES = [
    (MetadataFilters(filters=[_f("team", "ops")]), {"ops-keys", "ops-deploy"}),
    (MetadataFilters(filters=[_f("team", "ops", "!=")]), {"dev-style", "misc-fruit"}),
    (MetadataFilters(filters=[_f("team", ["dev", "misc"], "in")]), {"dev-style", "misc-fruit"}),
    (MetadataFilters(filters=[_f("team", ["dev", "misc"], "nin")]), {"ops-keys", "ops-deploy"}),
    (MetadataFilters(filters=[_f("year", 2023, ">")]), {"ops-keys"}),
    (MetadataFilters(filters=[_f("year", 2023, ">=")]), {"ops-keys", "dev-style"}),
    (MetadataFilters(filters=[_f("year", 2021, "<")]), {"misc-fruit"}),
    (MetadataFilters(filters=[_f("year", 2021, "<=")]), {"misc-fruit", "ops-deploy"}),
    (MetadataFilters(filters=[_f("score", 0.5)]), {"misc-fruit"}),
    (MetadataFilters(filters=[_f("team", "ops"), _f("year", 2022, ">")]), {"ops-keys"}),
    (
        MetadataFilters(filters=[_f("team", "dev"), _f("year", 2020, "<")], condition=FilterCondition.OR),
        {"dev-style", "misc-fruit"},
    ),
    (
        MetadataFilters(
            filters=[
                _f("team", "ops"),
                MetadataFilters(filters=[_f("year", 2019), _f("year", 2023)], condition=FilterCondition.OR),
            ],
            condition=FilterCondition.OR,
        ),
        {"ops-keys", "ops-deploy", "misc-fruit", "dev-style"},
    ),
    (MetadataFilters(filters=[_f("team", "nobody")]), set()),
]


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_metadata_filters_answer_exactly_the_matching_nodes(
    index: VectorStoreIndex, filters: MetadataFilters, expected: set[str]
) -> None:
    found = index.as_retriever(similarity_top_k=10, filters=filters).retrieve("API key rotation")
    assert {n.node.ref_doc_id for n in found} == expected
    for n in found:  # the metadata comes back exactly as the document had it
        doc = next(d for d in DOCS if d.id_ == n.node.ref_doc_id)
        assert n.node.metadata == doc.metadata


async def test_async_retrieval_with_filters(index: VectorStoreIndex) -> None:
    filters = MetadataFilters(filters=[_f("team", "ops")])
    found = await index.as_retriever(similarity_top_k=10, filters=filters).aretrieve("deploys")
    assert {n.node.ref_doc_id for n in found} == {"ops-keys", "ops-deploy"}


def test_query_modes_dense_hybrid_sparse(
    store: QdrantStore, embed_model: Qwen3Embedding, index: VectorStoreIndex
) -> None:
    vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
    text = "Bananas are yellow."
    base: dict[str, Any] = {"query_str": text, "similarity_top_k": 4}
    dense = vector_store.query(
        VectorStoreQuery(query_embedding=embed_model.get_query_embedding(text), **base)
    )
    assert len(dense.nodes or []) == 4
    sparse = vector_store.query(VectorStoreQuery(mode=VectorStoreQueryMode.SPARSE, **base))
    # the tiny tokenizer splits words into shared pieces, so others match a little: the one with
    # all the words comes first, clearly
    assert sparse.nodes and sparse.nodes[0].ref_doc_id == "misc-fruit"
    assert sparse.similarities and sparse.similarities[0] > max(sparse.similarities[1:], default=0.0)
    hybrid = vector_store.query(
        VectorStoreQuery(
            mode=VectorStoreQueryMode.HYBRID, query_embedding=embed_model.get_query_embedding(text), **base
        )
    )
    assert {n.ref_doc_id for n in hybrid.nodes or []} == {d.id_ for d in DOCS}
    assert "misc-fruit" in {n.ref_doc_id for n in (hybrid.nodes or [])[:2]}  # first in the sparse list
    filtered = vector_store.query(
        VectorStoreQuery(
            mode=VectorStoreQueryMode.SPARSE, filters=MetadataFilters(filters=[_f("team", "ops")]), **base
        )
    )
    assert filtered.nodes and {n.metadata["team"] for n in filtered.nodes} == {"ops"}
    with pytest.raises(InvalidOptionError, match="not supported"):
        vector_store.query(VectorStoreQuery(mode=VectorStoreQueryMode.MMR, **base))


def test_unsupported_operator_is_refused(index: VectorStoreIndex) -> None:
    filters = MetadataFilters(filters=[_f("team", "op", "text_match")])
    with pytest.raises(InvalidOptionError, match="text_match"):
        index.as_retriever(filters=filters).retrieve("x")


def test_delete_ref_doc_removes_its_nodes_and_record(store: QdrantStore, index: VectorStoreIndex) -> None:
    index.delete_ref_doc("ops-keys")
    found = index.as_retriever(similarity_top_k=10).retrieve("anything")
    assert {n.node.ref_doc_id for n in found} == {"ops-deploy", "dev-style", "misc-fruit"}
    assert sorted(r.source for r in store.sources.all()) == ["dev-style", "misc-fruit", "ops-deploy"]


async def test_async_add_and_delete(store: QdrantStore, embed_model: Qwen3Embedding) -> None:
    vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
    from llama_index.core.schema import TextNode

    nodes = [TextNode(text=d.text, id_=f"n-{d.id_}", metadata=d.metadata) for d in DOCS]
    for node in nodes:
        node.embedding = await embed_model.aget_text_embedding(node.text)
    assert await vector_store.async_add(nodes) == [n.node_id for n in nodes]
    await vector_store.adelete("n-ops-keys")
    query = VectorStoreQuery(query_embedding=nodes[0].embedding, similarity_top_k=10)
    result = await vector_store.aquery(query)
    assert {n.node_id for n in result.nodes or []} == {"n-ops-deploy", "n-dev-style", "n-misc-fruit"}


def test_tenants_keep_their_own_documents(store: QdrantStore, embed_model: Qwen3Embedding) -> None:
    acme = Qwen3RagVectorStore(store, embed_model=embed_model, tenant="acme")
    globex = Qwen3RagVectorStore(store, embed_model=embed_model, tenant="globex")
    for vector_store, text in ((acme, "Acme ships on Mondays."), (globex, "Globex ships on Tuesdays.")):
        context = StorageContext.from_defaults(vector_store=vector_store)
        VectorStoreIndex.from_documents(
            [Document(text=text, id_="handbook")], storage_context=context, embed_model=embed_model
        )
    query = VectorStoreQuery(query_embedding=embed_model.get_query_embedding("ships"), similarity_top_k=5)
    assert [n.get_content() for n in acme.query(query).nodes or []] == ["Acme ships on Mondays."]
    acme.delete("handbook")
    assert acme.query(query).nodes == []
    assert [n.get_content() for n in globex.query(query).nodes or []] == ["Globex ships on Tuesdays."]


def test_nodes_without_embeddings_or_with_bad_metadata_are_refused(
    store: QdrantStore, embed_model: Qwen3Embedding
) -> None:
    from llama_index.core.schema import TextNode

    vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
    with pytest.raises(InvalidOptionError, match="no embedding"):
        vector_store.add([TextNode(text="x", id_="n1")])
    bad = TextNode(text="x", id_="n2", metadata={"when": float("nan")}, embedding=[0.1] * 64)
    with pytest.raises(InvalidOptionError, match="when"):
        vector_store.add([bad])
    assert not store.exists() or store.count() == 0
