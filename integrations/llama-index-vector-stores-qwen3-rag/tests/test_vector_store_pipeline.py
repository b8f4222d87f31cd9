"""``Qwen3RagVectorStore`` with ``IngestionPipeline`` upserts, the reranking packages over it, and one
layout with ``qwen3-rag ingest`` (the CLI reads what the store wrote, the store what ingest wrote).

Real parts: the tiny Qwen3 checkpoints, LlamaIndex's pipeline, splitter and docstore, Qdrant Edge,
the ``qwen3-rag`` CLI in process.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.ingestion import DocstoreStrategy, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.storage.docstore import SimpleDocumentStore
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery
from llama_index.embeddings.qwen3_rag import Qwen3Embedding
from llama_index.postprocessor.qwen3_rag_rerank import Qwen3Rerank
from llama_index.retrievers.qwen3_rag import Qwen3RagRetriever
from llama_index.vector_stores.qwen3_rag import Qwen3RagVectorStore

from qwen3_rag._cli import main
from qwen3_rag.pipeline import QdrantStore

pytestmark = pytest.mark.models  # every test here builds or loads a model

LONG = " ".join(f"Step {i}: rotate key number {i} in the vault." for i in range(40))


class CountingEmbedding(Qwen3Embedding):
    """The real embedding model, counting the texts it embeds for documents."""

    embedded: ClassVar[list[str]] = []

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        type(self).embedded.extend(texts)
        return super()._get_text_embeddings(texts)


@pytest.fixture()
def embed_model(tiny_embedding_path: str) -> CountingEmbedding:
    CountingEmbedding.embedded = []
    return CountingEmbedding(model_name=tiny_embedding_path)


def _pipeline(
    vector_store: Qwen3RagVectorStore, embed_model: Any, docstore: SimpleDocumentStore, strategy: Any
) -> IngestionPipeline:
    return IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), embed_model],
        vector_store=vector_store,
        docstore=docstore,
        docstore_strategy=strategy,
    )


def _contents(store: QdrantStore) -> dict[str, list[str]]:
    """``{document: its chunk texts in order}``, from the chunks themselves, checked against the registry."""
    chunks: dict[str, list[tuple[int, str]]] = {}
    for point in store.points(with_vectors=False):
        chunks.setdefault(point.payload["source"], []).append(
            (point.payload["chunk_index"], point.payload["text"])
        )
    records = {r.source: r.chunks for r in store.sources.all()}
    assert records == {source: len(items) for source, items in chunks.items()}
    assert all(sorted(i for i, _ in items) == list(range(len(items))) for items in chunks.values())
    return {source: [text for _, text in sorted(items)] for source, items in chunks.items()}


@pytest.mark.parametrize("strategy", [DocstoreStrategy.UPSERTS, DocstoreStrategy.UPSERTS_AND_DELETE])
def test_ingestion_pipeline_upserts_replace_an_edited_document(
    tmp_path: Path, embed_model: CountingEmbedding, strategy: DocstoreStrategy
) -> None:
    docs = [
        Document(text=LONG, id_="vault", metadata={"team": "ops"}),
        Document(text="Bananas are yellow.", id_="fruit", metadata={"team": "misc"}),
        Document(text="Berlin is in Germany.", id_="berlin", metadata={"team": "geo"}),
    ]
    docstore = SimpleDocumentStore()
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
        _pipeline(vector_store, embed_model, docstore, strategy).run(documents=docs)
        first = _contents(store)
        assert set(first) == {"vault", "fruit", "berlin"} and len(first["vault"]) > 2

        # the long document shrinks to one sentence; berlin is gone from the input
        edited = [Document(text="Step 0: rotate the key.", id_="vault", metadata={"team": "ops"}), docs[1]]
        CountingEmbedding.embedded = []
        _pipeline(vector_store, embed_model, docstore, strategy).run(documents=edited)
        # only the edited document is embedded again (LlamaIndex embeds the metadata with the text)
        assert CountingEmbedding.embedded == ["team: ops\n\nStep 0: rotate the key."]
        after = _contents(store)
        assert after["vault"] == ["Step 0: rotate the key."]  # nothing of the old version left behind
        assert after["fruit"] == ["Bananas are yellow."]
        assert ("berlin" in after) == (strategy == DocstoreStrategy.UPSERTS)


def test_adding_the_same_nodes_again_overwrites_them(tmp_path: Path, embed_model: CountingEmbedding) -> None:
    with QdrantStore("kb", location=":memory:") as store:
        vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
        nodes = SentenceSplitter(chunk_size=64, chunk_overlap=0).get_nodes_from_documents(
            [Document(text=LONG, id_="v")]
        )
        for node in nodes:
            node.embedding = embed_model.get_text_embedding(node.get_content())
        half = len(nodes) // 2
        vector_store.add(nodes[:half])  # a document's nodes may come in several batches
        vector_store.add(nodes[half:])
        vector_store.add(nodes)  # the same node ids again: overwritten in place, no duplicates
        assert _contents(store) == {"v": [n.get_content() for n in nodes]}
        result = vector_store.query(
            VectorStoreQuery(query_embedding=nodes[0].embedding, similarity_top_k=100)
        )
        assert sorted(result.ids or []) == sorted(n.node_id for n in nodes)


def test_rerankers_over_the_store(
    tmp_path: Path, embed_model: CountingEmbedding, tiny_reranker_path: str
) -> None:
    docs = [
        Document(text="Rotate the API key every month.", id_="keys", metadata={"team": "ops"}),
        Document(text="Deploys run on Fridays.", id_="deploys", metadata={"team": "ops"}),
        Document(text="Bananas are yellow.", id_="fruit", metadata={"team": "misc"}),
    ]
    with QdrantStore("kb", path=tmp_path / "qdrant") as store:
        vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
        context = StorageContext.from_defaults(vector_store=vector_store)
        index = VectorStoreIndex.from_documents(docs, storage_context=context, embed_model=embed_model)
        ops = MetadataFilters(filters=[MetadataFilter(key="team", value="ops")])

        # the node postprocessor over the index's retriever
        rerank = Qwen3Rerank(model=tiny_reranker_path, top_n=2)
        candidates = index.as_retriever(similarity_top_k=10, filters=ops).retrieve("rotate the key")
        reranked = rerank.postprocess_nodes(candidates, query_str="rotate the key")
        assert {n.node.ref_doc_id for n in reranked} == {"keys", "deploys"}
        assert [n.score or 0.0 for n in reranked] == sorted((n.score or 0.0 for n in reranked), reverse=True)

        # the two-stage retriever package on the same collection (the spec the store recorded)
        retriever = Qwen3RagRetriever(
            store=store,
            embedding_model=embed_model.embedder,
            reranker_model=tiny_reranker_path,
            top_k=10,
            top_n=3,
        )
        found = retriever.retrieve("rotate the key")
        assert {n.node.metadata["source"] for n in found} == {"keys", "deploys", "fruit"}
        assert [n.score or 0.0 for n in found] == sorted((n.score or 0.0 for n in found), reverse=True)


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, stdout=out, stdin=io.StringIO("")), out.getvalue()


def test_cli_reads_what_the_store_wrote_and_the_other_way(
    tmp_path: Path, embed_model: CountingEmbedding, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    folder = tmp_path / "qdrant"
    where = ["--qdrant-path", str(folder), "--collection", "kb"]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ops.md").write_text("# Keys\nRotate the API key every month.", encoding="utf-8")
    code, out = run(["ingest", str(docs), "--embedding-model", tiny_embedding_path, "--no-progress", *where])
    assert code == 0, out
    with QdrantStore("kb", path=folder) as store:
        vector_store = Qwen3RagVectorStore(store, embed_model=embed_model)
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model)
        index.insert(Document(text="Bananas are yellow.", id_="fruit", metadata={"team": "misc"}))
        found = index.as_retriever(similarity_top_k=5).retrieve("API key")
        ops = str((docs / "ops.md").resolve())
        by_source = {n.node.ref_doc_id: n.node for n in found}
        assert set(by_source) == {ops, "fruit"}
        assert by_source[ops].metadata == {"source": ops, "chunk_index": 0, "headings": ["Keys"]}
        assert by_source["fruit"].metadata == {"team": "misc"}
    code, out = run(["sources", *where])
    assert code == 0 and "fruit" in out and "ops.md" in out
    code, out = run(
        ["query", "bananas", "--json", "--reranker-model", tiny_reranker_path, "--no-progress", *where]
    )
    assert code == 0, out
    assert {r["source"] for r in json.loads(out)["results"]} == {ops, "fruit"}
