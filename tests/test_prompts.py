"""The official prompt strings, pinned character for character (fast layer).

Each literal below is copied from the QwenLM/Qwen3-Embedding README and examples, independently of
qwen3_rag._prompts: a changed character changes every vector and score without any test that loads
a model noticing a difference in kind.
"""

from __future__ import annotations

from qwen3_rag import DEFAULT_QUERY_INSTRUCTION, TASK_INSTRUCTIONS

# Internal names, kept in one place.
from qwen3_rag._prompts import (
    EMBEDDING_END_TOKEN,
    RERANKER_NO_TOKEN,
    RERANKER_PREFIX,
    RERANKER_SUFFIX,
    RERANKER_YES_TOKEN,
    format_query,
    format_rerank_body,
    format_rerank_document_part,
    format_rerank_query_part,
)

OFFICIAL_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and "
    'the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
OFFICIAL_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
WEB_SEARCH = "Given a web search query, retrieve relevant passages that answer the query"


def test_reranker_template_is_the_official_one() -> None:
    assert RERANKER_PREFIX == OFFICIAL_PREFIX
    assert RERANKER_SUFFIX == OFFICIAL_SUFFIX
    assert (RERANKER_YES_TOKEN, RERANKER_NO_TOKEN, EMBEDDING_END_TOKEN) == ("yes", "no", "<|endoftext|>")


def test_default_instruction_and_presets() -> None:
    assert DEFAULT_QUERY_INSTRUCTION == WEB_SEARCH
    assert TASK_INSTRUCTIONS == {
        "web_search": WEB_SEARCH,
        "question_answering": "Given a question, retrieve Wikipedia passages that answer the question",
        "semantic_similarity": "Retrieve semantically similar text",
        "bitext_mining": "Retrieve parallel sentences",
    }


def test_query_format_has_no_space_after_query_colon() -> None:
    assert format_query("what is RAG?", "Find it") == "Instruct: Find it\nQuery:what is RAG?"
    assert format_query("", "T") == "Instruct: T\nQuery:"


def test_reranker_body_is_query_part_then_document_part() -> None:
    query_part = format_rerank_query_part("capital of France?", "Judge it")
    assert query_part == "<Instruct>: Judge it\n<Query>: capital of France?\n"
    assert format_rerank_document_part("Paris.") == "<Document>: Paris."
    assert format_rerank_body("capital of France?", "Paris.", "Judge it") == query_part + "<Document>: Paris."
    # The whole prompt, as the official code builds it.
    whole = RERANKER_PREFIX + format_rerank_body("q", "d", WEB_SEARCH) + RERANKER_SUFFIX
    assert whole == (
        OFFICIAL_PREFIX + f"<Instruct>: {WEB_SEARCH}\n<Query>: q\n<Document>: d" + OFFICIAL_SUFFIX
    )
