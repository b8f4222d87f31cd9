"""A RAG chatbot with LlamaIndex over a folder ingested by qwen3-rag.

    qwen3-rag ingest ./docs                                   # once (or pass --ingest ./docs here)
    python examples/llamaindex_chatbot.py                     # extractive answers, no LLM needed
    python examples/llamaindex_chatbot.py --llm-url http://localhost:8000/v1 --llm-model Qwen/Qwen3-8B
    python examples/llamaindex_chatbot.py --chat-model /models/Qwen3-1.7B

``Qwen3RagLlamaRetriever`` below is a LlamaIndex ``BaseRetriever`` over qwen3-rag's
``TwoStageRetriever`` (Qdrant top-k, dense or --hybrid, then Qwen3-Reranker to top-n): nodes
carry the chunk text, ``source`` and ``retrieval_score`` metadata, and ``score`` is the rerank
score. A ``CustomQueryEngine`` turns them into an answer with the chat model you configure or,
with none, quotes the top passages with their sources. Questions come from --question or stdin.

Offline smoke run with tiny random models: ``python -m qwen3_rag.testing /tmp/tiny`` then
``--embedding-model /tmp/tiny/embedding --reranker-model /tmp/tiny/reranker``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chatbot_common import answer, ingest_if_asked, make_chat_model, open_store, run_chatbot, search_options
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from qwen3_rag.pipeline import RetrievedChunk, TwoStageRetriever


class Qwen3RagLlamaRetriever(BaseRetriever):
    """LlamaIndex retriever over a qwen3-rag collection (sync and async)."""

    def __init__(self, pipeline: TwoStageRetriever, *, filters: dict[str, Any] | None = None) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._filters = filters

    @staticmethod
    def _node(result: RetrievedChunk) -> NodeWithScore:
        metadata = {
            "source": result.source,
            "chunk_index": result.chunk_index,
            "citation": result.citation,  # "report.pdf, p. 12", "guide.md, Install > Linux"
            "retrieval_score": result.retrieval_score,
        }
        return NodeWithScore(
            node=TextNode(id_=result.id, text=result.text, metadata=metadata), score=result.rerank_score
        )

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [self._node(r) for r in self._pipeline.retrieve(query_bundle.query_str, filters=self._filters)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        results = await self._pipeline.aretrieve(query_bundle.query_str, filters=self._filters)
        return [self._node(r) for r in results]


class RagQueryEngine(CustomQueryEngine):
    """Retrieve, then answer with the chat model (or extractively)."""

    retriever: BaseRetriever
    chat: Any = None

    def custom_query(self, query_str: str) -> str:
        nodes = self.retriever.retrieve(query_str)
        passages = [
            {
                "text": n.node.get_content(),
                "source": n.node.metadata["source"],
                "citation": n.node.metadata["citation"],
                "rerank_score": n.score or 0.0,
            }
            for n in nodes
        ]
        return answer(query_str, passages, self.chat)


def build_pipeline(args: argparse.Namespace) -> TwoStageRetriever:
    store = open_store(args)
    ingest_if_asked(args, store)
    # The collection's own model and size unless --embedding-model says otherwise, as everywhere.
    return TwoStageRetriever.from_collection(
        store, reranker=args.reranker_model, top_n=args.top_n, **search_options(args)
    )


def build(args: argparse.Namespace) -> Any:
    engine = RagQueryEngine(
        retriever=Qwen3RagLlamaRetriever(build_pipeline(args)), chat=make_chat_model(args)
    )
    return engine.query


def main(argv: list[str] | None = None) -> int:
    return run_chatbot(argv, __doc__ or "", build)


if __name__ == "__main__":
    sys.exit(main())
