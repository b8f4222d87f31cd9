"""The LangChain and LlamaIndex adapters with ``base_url``: the same results as in-process.

`qwen3-rag serve` runs as a real process on 127.0.0.1 with the tiny checkpoints (an API key set);
each adapter is built once with ``base_url``/``api_key`` and once without, and must agree within
1e-5 (vectors, scores, order), sync and async.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.server_helpers import Server, offline_env, serving
from tests.support.texts import QUERY
from tests.support.texts import SERVED_TEXTS as TEXTS

langchain_qwen3_rag = pytest.importorskip("langchain_qwen3_rag")
li_embeddings = pytest.importorskip("llama_index.embeddings.qwen3_rag")
li_rerank = pytest.importorskip("llama_index.postprocessor.qwen3_rag_rerank")

from langchain_core.documents import Document  # noqa: E402
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode  # noqa: E402

from qwen3_rag import InvalidOptionError, Qwen3Embedder  # noqa: E402
from qwen3_rag.pipeline import Ingestor, QdrantStore  # noqa: E402

pytestmark = pytest.mark.models  # every test here builds or loads a model

KEY = "adapter-remote-key"
LOCAL = {"device": "cpu", "dtype": "float32"}


@pytest.fixture(scope="module")
def server(
    tiny_embedding_path: str, tiny_reranker_path: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with serving(
        "adapters",
        ["--embedding-model", tiny_embedding_path, "--reranker-model", tiny_reranker_path],
        tmp_path_factory.mktemp("adapters-remote"),
        offline_env(QWEN3_RAG_API_KEY=KEY),
    ) as started:
        yield started


def _close(a: object, b: object) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)


def test_langchain_embeddings_and_rerank(
    server: Server, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    remote = {"base_url": server.base_url, "api_key": KEY}
    here = langchain_qwen3_rag.Qwen3Embeddings(model=tiny_embedding_path, dimensions=48, **LOCAL)
    there = langchain_qwen3_rag.Qwen3Embeddings(model=tiny_embedding_path, dimensions=48, **remote)
    assert there.embedder.remote and there.dimensions == 48
    assert "adapter-remote-key" not in repr(there)
    _close(there.embed_documents(TEXTS), here.embed_documents(TEXTS))
    _close(there.embed_query(QUERY), here.embed_query(QUERY))
    _close(asyncio.run(there.aembed_documents(TEXTS)), here.embed_documents(TEXTS))
    _close(asyncio.run(there.aembed_query(QUERY)), here.embed_query(QUERY))

    documents = [Document(page_content=t, metadata={"n": i}) for i, t in enumerate(TEXTS)]
    rerank_here = langchain_qwen3_rag.Qwen3Rerank(model=tiny_reranker_path, top_n=3, **LOCAL)
    rerank_there = langchain_qwen3_rag.Qwen3Rerank(model=tiny_reranker_path, top_n=3, **remote)
    for got in (
        rerank_there.compress_documents(documents, QUERY),
        asyncio.run(rerank_there.acompress_documents(documents, QUERY)),
    ):
        want = rerank_here.compress_documents(documents, QUERY)
        assert [d.metadata["n"] for d in got] == [d.metadata["n"] for d in want]
        _close([d.metadata["relevance_score"] for d in got], [d.metadata["relevance_score"] for d in want])


def test_langchain_retriever(
    server: Server, tiny_embedding_path: str, tiny_reranker_path: str, tmp_path: Path
) -> None:
    for i, text in enumerate(TEXTS):
        (tmp_path / f"doc{i}.txt").write_text(text or "empty", encoding="utf-8")
    store = QdrantStore("adapters", location=":memory:")
    Ingestor(
        store, Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32"), progress=False
    ).ingest([tmp_path])
    here = langchain_qwen3_rag.Qwen3RagRetriever(store=store, reranker_model=tiny_reranker_path, k=3, **LOCAL)
    there = langchain_qwen3_rag.Qwen3RagRetriever(
        store=store, reranker_model=tiny_reranker_path, k=3, base_url=server.base_url, api_key=KEY
    )
    assert there.two_stage.embedder.remote and there.two_stage.reranker.remote
    for got in (there.invoke(QUERY), asyncio.run(there.ainvoke(QUERY))):
        want = here.invoke(QUERY)
        assert [d.id for d in got] == [d.id for d in want]
        _close([d.metadata["relevance_score"] for d in got], [d.metadata["relevance_score"] for d in want])


def test_llama_index_embedding_and_rerank(
    server: Server, tiny_embedding_path: str, tiny_reranker_path: str
) -> None:
    remote = {"base_url": server.base_url, "api_key": KEY}
    here = li_embeddings.Qwen3Embedding(model_name=tiny_embedding_path, **LOCAL)
    there = li_embeddings.Qwen3Embedding(model_name=tiny_embedding_path, **remote)
    assert there.embedder.remote and "api_key" not in there.to_dict()
    _close(there.get_text_embedding_batch(TEXTS), here.get_text_embedding_batch(TEXTS))
    _close(there.get_query_embedding(QUERY), here.get_query_embedding(QUERY))
    _close(asyncio.run(there.aget_text_embedding_batch(TEXTS)), here.get_text_embedding_batch(TEXTS))
    _close(asyncio.run(there.aget_query_embedding(QUERY)), here.get_query_embedding(QUERY))

    def nodes() -> list[NodeWithScore]:
        return [NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.5) for i, t in enumerate(TEXTS)]

    rerank_here = li_rerank.Qwen3Rerank(model=tiny_reranker_path, top_n=3, **LOCAL)
    rerank_there = li_rerank.Qwen3Rerank(model=tiny_reranker_path, top_n=3, **remote)
    want = rerank_here.postprocess_nodes(nodes(), query_bundle=QueryBundle(QUERY))
    for got in (
        rerank_there.postprocess_nodes(nodes(), query_bundle=QueryBundle(QUERY)),
        asyncio.run(rerank_there.apostprocess_nodes(nodes(), query_bundle=QueryBundle(QUERY))),
    ):
        assert [n.node.node_id for n in got] == [n.node.node_id for n in want]
        _close([n.score for n in got], [n.score for n in want])


def test_a_loaded_model_with_a_base_url_is_refused(server: Server, tiny_embedding_path: str) -> None:
    loaded = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    with pytest.raises(InvalidOptionError, match="base_url"):
        langchain_qwen3_rag.Qwen3Embeddings(model=loaded, base_url=server.base_url)
    with pytest.raises(InvalidOptionError, match="base_url"):
        li_embeddings.Qwen3Embedding(model_name=loaded, base_url=server.base_url)
