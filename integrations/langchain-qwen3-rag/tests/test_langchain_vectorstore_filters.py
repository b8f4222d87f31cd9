"""``Qwen3RagVectorStore`` filters (mappings and qdrant-client ``Filter``), hybrid search, tenants and
bad input, on Qdrant Edge and qdrant-client's ``:memory:``.

Real parts: the tiny Qwen3 embedding checkpoint, both embedded engines.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_qwen3_rag import Qwen3Embeddings, Qwen3RagVectorStore
from qdrant_client import models

from qwen3_rag import InvalidOptionError
from qwen3_rag.pipeline import QdrantStore

pytestmark = pytest.mark.models  # every test here builds or loads a model

# `store`: integrations/conftest.py (an empty collection on Qdrant Edge, then on :memory:).
DOCS = [
    Document(
        id="keys", page_content="Rotate the API key every month.", metadata={"team": "ops", "year": 2024}
    ),
    Document(id="deploys", page_content="Deploys run on Fridays.", metadata={"team": "ops", "year": 2021}),
    Document(id="style", page_content="Names say what things are.", metadata={"team": "dev", "year": 2023}),
    Document(id="fruit", page_content="Bananas are yellow.", metadata={"team": "misc", "year": 2019}),
]


@pytest.fixture()
def embeddings(tiny_embedding_path: str) -> Qwen3Embeddings:
    return Qwen3Embeddings(model=tiny_embedding_path)


@pytest.fixture()
def vectors(store: QdrantStore, embeddings: Qwen3Embeddings) -> Qwen3RagVectorStore:
    found = Qwen3RagVectorStore(store, embeddings, retrieval_mode="hybrid")
    found.add_documents(DOCS)
    return found


CASES = [
    ({"team": "ops"}, {"keys", "deploys"}),
    ({"team": ["dev", "misc"]}, {"style", "fruit"}),
    ({"year": {"gte": 2021, "lt": 2024}}, {"deploys", "style"}),
    ({"team": "ops", "year": {"gt": 2022}}, {"keys"}),
    ({"team": {"ne": "ops"}}, {"style", "fruit"}),
    ({"source": ["keys", "fruit"]}, {"keys", "fruit"}),
    (
        models.Filter(
            must=[models.FieldCondition(key="metadata.team", match=models.MatchValue(value="dev"))]
        ),
        {"style"},
    ),
    ({"team": "nobody"}, set()),
]


@pytest.mark.parametrize(("where", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
async def test_filters_return_exactly_the_matching_documents(
    vectors: Qwen3RagVectorStore, where: Any, expected: set[str]
) -> None:
    assert {d.id for d in vectors.similarity_search("API key", k=10, filter=where)} == expected
    found = await vectors.asimilarity_search("API key", k=10, filter=where)
    assert {d.id for d in found} == expected
    vector = await vectors.embeddings.aembed_query("API key")
    assert {d.id for d in vectors.similarity_search_by_vector(vector, k=10, filter=where)} == expected
    retriever = vectors.as_retriever(search_kwargs={"k": 10, "filter": where})
    assert {d.id for d in retriever.invoke("API key")} == expected


def test_scores_and_metadata(vectors: Qwen3RagVectorStore) -> None:
    found = vectors.similarity_search_with_score("Bananas are yellow.", k=4)
    assert found[0][0] == DOCS[3]  # hybrid: the document with every word first, metadata as given
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
    dense = Qwen3RagVectorStore(vectors.store, vectors.embeddings)
    best, score = dense.similarity_search_with_score("Bananas are yellow.", k=1)[0]
    assert best.id == "fruit" and -1.0 <= score <= 1.0  # cosine
    relevance = dense.similarity_search_with_relevance_scores("Bananas are yellow.", k=4)
    assert all(0.0 <= r <= 1.0 for _, r in relevance)


def test_tenants_share_a_collection_but_not_documents(
    store: QdrantStore, embeddings: Qwen3Embeddings
) -> None:
    acme = Qwen3RagVectorStore(store, embeddings, tenant="acme")
    globex = Qwen3RagVectorStore(store, embeddings, tenant="globex")
    acme.add_documents([Document(id="handbook", page_content="Acme ships on Mondays.", metadata={"v": 1})])
    globex.add_documents(
        [Document(id="handbook", page_content="Globex ships on Tuesdays.", metadata={"v": 2})]
    )
    assert [d.page_content for d in acme.similarity_search("ships", k=5)] == ["Acme ships on Mondays."]
    assert [d.metadata for d in globex.get_by_ids(["handbook"])] == [{"v": 2}]
    acme.delete(["handbook"])
    assert acme.similarity_search("ships", k=5) == []
    assert [d.page_content for d in globex.similarity_search("ships", k=5)] == ["Globex ships on Tuesdays."]
    assert [(r.source, r.tenant) for r in store.sources.all()] == [("handbook", "globex")]


def test_bad_input_is_refused_before_anything_is_written(
    store: QdrantStore, embeddings: Qwen3Embeddings
) -> None:
    vectors = Qwen3RagVectorStore(store, embeddings)
    good = Document(id="good", page_content="fine", metadata={"team": "ops"})
    with pytest.raises(InvalidOptionError, match="not JSON-safe"):
        vectors.add_documents([good, Document(id="bad", page_content="x", metadata={"when": object()})])
    with pytest.raises(InvalidOptionError, match="3 texts, 2 metadatas"):
        vectors.add_texts(["a", "b", "c"], metadatas=[{}, {}])
    with pytest.raises(InvalidOptionError, match="retrieval_mode"):
        Qwen3RagVectorStore(store, embeddings, retrieval_mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="ids to delete"):
        vectors.delete()
    assert not store.exists() or store.count() == 0  # nothing of the refused batch was written
