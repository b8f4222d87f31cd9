"""``POST /v1/rerank``: the Cohere/Jina/vLLM endpoint over :class:`~qwen3_rag._runtime.Qwen3Reranker`.

Each result carries ``relevance_score`` (P(yes)) and, as an extension field, ``relevance_logit``:
the log-odds ``logit("yes") - logit("no")`` from the same forward pass (clients that do not know
it ignore it; qwen3-rag's remote backend reads it).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response

from .._prompts import format_rerank_body
from .._ranking import best_first
from ._common import check_count, check_instruction, json_response, run_with_usage, served_model
from ._config import ServerConfig
from ._schemas import RerankRequest


async def rerank(request: RerankRequest, reranker: Any, config: ServerConfig) -> Response:
    reranker = served_model(reranker, request.model, "reranker")
    documents: list[str] = request.documents
    check_count(len(documents), "documents", config)
    check_instruction(request.instruction)
    instruction = request.instruction or reranker.instruction
    scored, tokens = await run_with_usage(
        reranker.ascores(request.query, documents, request.instruction),
        lambda: _token_counts(reranker, request.query, documents, instruction),
        config,
    )
    # Stable: ties keep input order; a top_n above the count means all, as Cohere does.
    results: list[dict[str, Any]] = []
    for index, score in best_first(scored.scores, request.top_n):
        result: dict[str, Any] = {
            "index": index,
            "relevance_score": score,
            "relevance_logit": scored.logits[index],
        }
        if request.return_documents:
            result["document"] = {"text": documents[index]}
        results.append(result)
    return await json_response(
        {
            "id": f"rerank-{uuid.uuid4().hex}",
            "model": reranker.model_name,
            "results": results,
            "usage": {"total_tokens": tokens},
        }
    )


def _token_counts(reranker: Any, query: str, documents: list[str], instruction: str) -> list[int]:
    if not documents:  # the tokenizer refuses an empty batch
        return []
    return [
        len(ids)
        for ids in reranker.encode_ids([format_rerank_body(query, d, instruction) for d in documents])
    ]
