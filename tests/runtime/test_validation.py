"""One positive-integer check everywhere: the message names the parameter and what it must be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qwen3_rag import InvalidOptionError
from qwen3_rag._runtime.http import HttpClient
from qwen3_rag._runtime.loading import BatchingOptions
from qwen3_rag._runtime.planning import plan_batches
from qwen3_rag._runtime.validation import check_positive_int
from qwen3_rag.pipeline import TokenChunker
from qwen3_rag.server._config import ServerConfig


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, "3", None, True])
def test_check_positive_int_refuses_what_is_not_a_positive_int(value: object) -> None:
    with pytest.raises(InvalidOptionError, match=rf"^top_k must be a positive integer, got {value!r:.3}"):
        check_positive_int(value, "top_k")


def test_check_positive_int_minimum_and_hint() -> None:
    assert check_positive_int(5, "n") == 5 and check_positive_int(0, "n", minimum=0) == 0
    message = r"^max_length must be an integer >= 2, got 1\. Raise it\.$"
    with pytest.raises(InvalidOptionError, match=message):
        check_positive_int(1, "max_length", minimum=2, hint="Raise it.")


SITES: list[tuple[str, Callable[[], Any], str]] = [
    ("plan_batches", lambda: plan_batches([1], token_budget=0), "token_budget must be a positive integer"),
    (
        "plan_batches-size",
        lambda: plan_batches([1], token_budget=8, max_batch_size=0),
        "max_batch_size must be a positive integer, got 0. Use None for no limit.",
    ),
    ("server", lambda: ServerConfig(max_inputs=0), "max_inputs must be a positive integer, got 0"),
    ("server-bool", lambda: ServerConfig(retry_after_s=True), "retry_after_s must be a positive integer"),
    ("chunker", lambda: TokenChunker(None, chunk_tokens=True), "chunk_tokens must be a positive integer"),
    (
        "batching",
        lambda: BatchingOptions(batch_tokens=0),
        "batch_tokens must be a positive integer, got 0. Use None for the device's default",
    ),
    ("batching-float", lambda: BatchingOptions(batch_tokens=4096.0), "batch_tokens"),  # type: ignore[arg-type]
    ("batching-size", lambda: BatchingOptions(max_batch_size=-1), "max_batch_size must be"),
    ("batching-queue", lambda: BatchingOptions(max_queue_items=0), "max_queue_items must be"),
    ("batching-wait", lambda: BatchingOptions(max_wait_ms=-1), "max_wait_ms must be a number"),
    ("batching-wait-nan", lambda: BatchingOptions(max_wait_ms=float("nan")), "max_wait_ms"),
    (
        "http-retries",
        lambda: HttpClient("http://127.0.0.1:1/v1", api_key=None, timeout=1.0, max_retries=-1),
        "max_retries must be an integer >= 0, got -1. Use 0 for no retries.",
    ),
]


@pytest.mark.parametrize(("make", "message"), [s[1:] for s in SITES], ids=[s[0] for s in SITES])
def test_every_site_names_the_parameter(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(InvalidOptionError) as info:
        make()
    assert str(info.value).startswith(message)


def test_valid_batching_options_pass() -> None:
    assert BatchingOptions(batch_tokens=8, max_batch_size=None, max_wait_ms=0, max_queue_items=1).asked() == {
        "batch_tokens": 8,
        "max_wait_ms": 0,
        "max_queue_items": 1,
    }
    assert BatchingOptions().asked() == {}
