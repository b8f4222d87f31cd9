"""A RAG chatbot with LangChain over a folder ingested by qwen3-rag.

    qwen3-rag ingest ./docs                                   # once (or pass --ingest ./docs here)
    python examples/langchain_chatbot.py                      # extractive answers, no LLM needed
    python examples/langchain_chatbot.py --llm-url http://localhost:11434/v1 --llm-model qwen3:8b
    python examples/langchain_chatbot.py --chat-model /models/Qwen3-1.7B

Retrieval is ``langchain_qwen3_rag.Qwen3RagRetriever``: Qdrant top-k (dense or --hybrid), then
Qwen3-Reranker to top-n. The answer comes from the chat model you configure or, with none,
quotes the top passages with their sources. Questions come from --question or stdin lines.

Offline smoke run with tiny random models: ``python -m qwen3_rag.testing /tmp/tiny`` then
``--embedding-model /tmp/tiny/embedding --reranker-model /tmp/tiny/reranker``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chatbot_common import answer, ingest_if_asked, make_chat_model, open_store, run_chatbot, search_options
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableLambda, RunnableParallel, RunnablePassthrough
from langchain_qwen3_rag import Qwen3RagRetriever


def as_passages(docs: list[Document]) -> list[dict[str, Any]]:
    return [
        {
            "text": d.page_content,
            "source": d.metadata["source"],
            "citation": d.metadata["citation"],  # "report.pdf, p. 12", "guide.md, Install > Linux"
            "rerank_score": d.metadata["relevance_score"],
        }
        for d in docs
    ]


def build_chain(retriever: Qwen3RagRetriever, chat: Any) -> Runnable[str, str]:
    """question -> {passages, question} -> answer: the usual LCEL RAG shape."""
    gather = RunnableParallel(
        passages=retriever | RunnableLambda(as_passages), question=RunnablePassthrough()
    )
    return gather | RunnableLambda(lambda x: answer(x["question"], x["passages"], chat))


def build(args: argparse.Namespace) -> Any:
    store = open_store(args)
    ingest_if_asked(args, store)
    retriever = Qwen3RagRetriever(
        store=store, reranker_model=args.reranker_model, k=args.top_n, **search_options(args)
    )
    return build_chain(retriever, make_chat_model(args)).invoke


def main(argv: list[str] | None = None) -> int:
    return run_chatbot(argv, __doc__ or "", build)


if __name__ == "__main__":
    sys.exit(main())
