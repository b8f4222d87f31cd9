"""The official Qwen3-Embedding / Qwen3-Reranker prompt strings: the only place they live.

Source: the model cards and the QwenLM/Qwen3-Embedding README (docs/reference.md, "Embedding",
"Instructions" and "Reranker"). Changing a character here changes every vector and score, so the
tests pin them against a plain copy.
"""

from __future__ import annotations

DEFAULT_QUERY_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
"""Default task instruction for retrieval queries (embedding) and for the reranker."""

RERANKER_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query "
    'and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n'
    "<|im_start|>user\n"
)
RERANKER_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"

RERANKER_YES_TOKEN = "yes"
RERANKER_NO_TOKEN = "no"
EMBEDDING_END_TOKEN = "<|endoftext|>"

TASK_INSTRUCTIONS: dict[str, str] = {
    "web_search": DEFAULT_QUERY_INSTRUCTION,
    "question_answering": "Given a question, retrieve Wikipedia passages that answer the question",
    "semantic_similarity": "Retrieve semantically similar text",
    "bitext_mining": "Retrieve parallel sentences",
}
"""Named instruction presets, from the official evaluation (English works best, per the report)."""


def format_query(query: str, instruction: str) -> str:
    """The embedding query text: note there is no space after ``Query:``."""
    return f"Instruct: {instruction}\nQuery:{query}"


def format_rerank_query_part(query: str, instruction: str) -> str:
    """The body's first part, the same for every document of one query."""
    return f"<Instruct>: {instruction}\n<Query>: {query}\n"


def format_rerank_document_part(document: str) -> str:
    """The body's last part: ``query part + document part`` is the whole body."""
    return f"<Document>: {document}"


def format_rerank_body(query: str, document: str, instruction: str) -> str:
    """The part of the reranker prompt between the fixed prefix and suffix."""
    return format_rerank_query_part(query, instruction) + format_rerank_document_part(document)
