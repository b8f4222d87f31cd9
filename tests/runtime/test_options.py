"""``ModelOptions``: the one copy of ``load``'s defaults, passed down as one value; ``resolve``: the
one resolve-and-clash that every framework adapter calls; the serve command's batching defaults."""

from __future__ import annotations

import argparse
import inspect
from dataclasses import fields
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, SecretStr

from qwen3_rag import InvalidOptionError, ModelOptions, Qwen3Embedder, Qwen3Reranker
from qwen3_rag._cli.serve import add_serve_parser
from qwen3_rag._runtime.options import BatchingOptions, given_options


class Settings(BaseModel):
    """A framework object's fields, as the adapters declare them (a pydantic model)."""

    device: str | None = "auto"
    base_url: str | None = None
    api_key: SecretStr | None = None
    query_instruction: str = "Given a query"
    instruction: str | None = None  # a per-call option of the rerankers: never passed on
    top_n: int = 3  # not an option of load


def test_load_takes_its_defaults_from_model_options() -> None:
    options = ModelOptions()
    batcher = {f.name for f in fields(BatchingOptions)}
    flat = {name: getattr(options, name) for name in ModelOptions.names() - batcher}
    flat |= {name: getattr(options.batching, name) for name in batcher}
    params = inspect.signature(Qwen3Embedder.load).parameters
    assert {name for name in params} >= ModelOptions.names()
    assert {name: params[name].default for name in ModelOptions.names()} == flat
    assert Qwen3Reranker.load.__func__ is Qwen3Embedder.load.__func__  # type: ignore[attr-defined]


def test_load_options_go_flat_into_one_value_and_are_checked() -> None:
    given = {"device": "cpu", "timeout": 5.0, "max_wait_ms": 7.0, "batch_tokens": 1024}
    options = ModelOptions.from_load_options(given)
    assert options.device == "cpu" and options.timeout == 5.0
    assert options.batching == BatchingOptions(batch_tokens=1024, max_wait_ms=7.0)
    assert given == {"device": "cpu", "timeout": 5.0, "max_wait_ms": 7.0, "batch_tokens": 1024}
    with pytest.raises(InvalidOptionError, match="max_wait_ms"):
        ModelOptions.from_load_options({"max_wait_ms": -1})
    with pytest.raises(TypeError):
        ModelOptions.from_load_options({"dimensions": 32})  # a view option, not a backend one


def test_given_options_are_the_set_fields_only() -> None:
    settings = Settings(base_url="http://h:1/v1", api_key=SecretStr("k"), instruction="x", top_n=2)
    names = ModelOptions.names() | {"instruction"}
    assert given_options(settings, names, {"query_instruction": "instruction", "instruction": None}) == {
        "base_url": "http://h:1/v1",
        "api_key": "k",  # a SecretStr is passed on as its value
    }
    settings = Settings(device="cpu", query_instruction="Find")
    assert given_options(settings, names, {"query_instruction": "instruction"}) == {
        "device": "cpu",
        "instruction": "Find",
    }


def test_resolve_refuses_local_options_for_a_server_before_any_connection() -> None:
    settings = Settings(device="cuda", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(InvalidOptionError, match="device='cuda' applies to a model run on this machine"):
        Qwen3Embedder.resolve("some/model", settings, owner="Adapter")


def test_serve_reads_the_batching_defaults_from_batching_options() -> None:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve"])
    default = BatchingOptions()
    assert (args.max_wait_ms, args.max_queue_items, args.batch_tokens) == (
        default.max_wait_ms,
        default.max_queue_items,
        default.batch_tokens,
    )


def test_resolve_a_name_or_a_loaded_model(tiny_embedding_path: str, tiny_reranker_path: str) -> None:
    loaded = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    view = Qwen3Embedder.resolve(
        loaded,
        Settings(query_instruction="Find"),
        owner="Adapter",
        renamed={"query_instruction": "instruction"},
    )
    assert view.backend is loaded.backend and view.instruction == "Find"
    again = Qwen3Embedder.resolve(tiny_embedding_path, Settings(device="cpu"), owner="Adapter")
    assert again.backend.loaded is loaded.backend.loaded  # type: ignore[attr-defined]
    with pytest.raises(InvalidOptionError, match="Adapter got a loaded Qwen3Embedder and device"):
        Qwen3Embedder.resolve(loaded, Settings(device="cpu"), owner="Adapter")
    reranker: Any = Qwen3Reranker.load(tiny_reranker_path, device="cpu", dtype="float32")
    with pytest.raises(InvalidOptionError, match="Adapter needs a Qwen3Embedder, got a Qwen3Reranker"):
        Qwen3Embedder.resolve(reranker, Settings(), owner="Adapter")


def test_the_local_backend_gives_the_dimensions_asked(tiny_embedding_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    items = embedder.procedure.format_documents(["one text", "another"])
    full = embedder.backend.embed(items, embedder.procedure.tokenize, embedder.hidden_size)
    cut = embedder.backend.embed(items, embedder.procedure.tokenize, 32)
    assert full.shape == (2, embedder.hidden_size) and cut.shape == (2, 32)
    np.testing.assert_array_equal(cut, full[:, :32])
