"""Steps both model endpoints share: pick the model, bound the request, run it, render the answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Response

from ._config import ServerConfig
from ._errors import ApiError, runtime_error
from ._state import model_aliases

T = TypeVar("T")


def served_model(model: Any, requested: str | None, kind: str) -> Any:
    """The served model of this kind; 404 when there is none or the request names another."""
    if model is None:
        raise ApiError(
            404,
            f"This server serves no {kind} model; start it with --{kind}-model to serve one "
            "(GET /v1/models lists what it serves).",
            code="model_not_found",
            param="model",
        )
    if requested is not None and requested not in model_aliases(model.model_name):
        names = " or ".join(repr(n) for n in sorted(model_aliases(model.model_name), key=len))
        raise ApiError(
            404,
            f"model: {requested!r} is not served here; the {kind} model is {names} (or leave model out).",
            code="model_not_found",
            param="model",
        )
    return model


def check_count(count: int, param: str, config: ServerConfig) -> None:
    if count > config.max_inputs:
        raise ApiError(
            413,
            f"{param}: {count} items is more than this server takes in one request "
            f"({config.max_inputs}, --max-inputs); split them over several requests.",
            code="too_many_inputs",
            param=param,
        )


def check_instruction(instruction: str | None) -> None:
    if instruction is not None and not instruction.strip():
        raise ApiError(
            400,
            "instruction: it must be a non-empty task description, e.g. 'Given a web search query, "
            "retrieve relevant passages that answer the query' (or leave it out for that default).",
            code="invalid_value",
            param="instruction",
        )


async def run_with_usage(
    work: Awaitable[T], count_tokens: Callable[[], list[int]], config: ServerConfig
) -> tuple[T, int]:
    """Run ``work`` (queued on the runtime's micro-batcher) and count the tokens it costs.

    The count runs in a worker thread while the batcher computes; it is skipped when the work is
    refused at once (a full queue, a closing runtime).
    """
    task = asyncio.ensure_future(work)
    tokens: asyncio.Task[list[int]] | None = None
    try:
        await asyncio.sleep(0)  # let the work reach the batcher: an overload is raised right there
        if task.done():
            task.result()  # a refusal is raised here, before any counting
        tokens = asyncio.create_task(asyncio.to_thread(count_tokens))
        result = await task
        return result, sum(await tokens)
    except asyncio.CancelledError:
        task.cancel()
        _abandon(tokens)
        raise
    except Exception as exc:
        _abandon(tokens)
        raise runtime_error(exc, config.retry_after_s) from exc


def _abandon(task: asyncio.Task[Any] | None) -> None:
    """Drop a side task whose result is no longer wanted, retrieving its outcome: an error there
    (the same bad input the work failed on) is not an "exception never retrieved" in the log."""
    if task is not None:
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        task.cancel()


async def json_response(payload: dict[str, Any]) -> Response:
    """Serialise off the event loop (large float arrays take a while)."""
    body = await asyncio.to_thread(lambda: json.dumps(payload, separators=(",", ":")).encode())
    return Response(body, media_type="application/json")
