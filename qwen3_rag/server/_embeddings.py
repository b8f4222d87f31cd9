"""``POST /v1/embeddings``: the OpenAI endpoint over :class:`~qwen3_rag._runtime.Qwen3Embedder`."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import Response

from .._prompts import format_query
from ._common import check_count, check_instruction, json_response, run_with_usage, served_model
from ._config import ServerConfig
from ._errors import ApiError, bad_request
from ._schemas import EmbeddingRequest

MIN_DIMENSIONS = 32


def _view(embedder: Any, dimensions: int | None) -> Any:
    if dimensions is None:
        return embedder
    top = int(embedder.dimensions)
    if not MIN_DIMENSIONS <= dimensions <= top:
        raise bad_request(
            "dimensions",
            f"{dimensions} is out of range; this server gives {MIN_DIMENSIONS} to {top} dimensions "
            "(Matryoshka sizes up to the served size; leave it out for the full size).",
        )
    return embedder.with_options(dimensions=dimensions)


def _check_token_range(sequences: list[list[int]], embedder: Any) -> None:
    limit = int(embedder.model.get_input_embeddings().num_embeddings)
    for index, ids in enumerate(sequences):
        if ids and max(ids) >= limit:
            raise bad_request(
                "input",
                f"item {index} holds a token id above {limit - 1}, the largest token id of "
                f"{embedder.model_name!r}; tokenize with this model's tokenizer.",
            )


def _encode(vector: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector.tolist()]


async def create_embeddings(request: EmbeddingRequest, embedder: Any, config: ServerConfig) -> Response:
    embedder = served_model(embedder, request.model, "embedding")
    check_count(len(request.input), "input", config)
    view = _view(embedder, request.dimensions)
    input_type = request.input_type or "document"
    check_instruction(request.instruction)
    if request.instruction is not None and input_type != "query":
        raise bad_request(
            "instruction", "applies to queries only; send input_type='query' with it (documents get none)."
        )
    if request.is_tokens:
        if input_type == "query":
            raise bad_request(
                "input_type",
                "'query' needs text input (the instruction is put before the text); for token ids, "
                "tokenize the formatted query yourself and send input_type 'document'.",
            )
        sequences: list[list[int]] = request.input
        _check_token_range(sequences, view)
        vectors, tokens = await run_with_usage(
            view.aembed_token_ids(sequences),
            lambda: [len(ids) for ids in view.encode_token_ids(sequences)],
            config,
        )
    elif input_type == "query":
        texts: list[str] = request.input
        instruction = request.instruction or view.instruction
        vectors, tokens = await run_with_usage(
            view.aembed_queries(texts, request.instruction),
            lambda: [len(ids) for ids in view.encode_ids([format_query(t, instruction) for t in texts])],
            config,
        )
    else:
        texts = request.input
        vectors, tokens = await run_with_usage(
            view.aembed_documents(texts), lambda: [len(ids) for ids in view.encode_ids(texts)], config
        )
    if len(vectors) != len(request.input):  # never expected: the runtime returns one row per input
        raise ApiError(500, "The runtime returned the wrong number of vectors.", code="internal_error")
    encoding = request.encoding_format or "float"
    return await json_response(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _encode(vector, encoding)}
                for i, vector in enumerate(vectors)
            ],
            "model": embedder.model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
