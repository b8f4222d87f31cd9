"""Fixtures shared by the core tests and every integration's tests.

Everything here is offline: the Hub is switched off for the whole session and the models are
tiny random-weight Qwen3 checkpoints written by ``qwen3_rag.testing`` once per session.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import pytest

if TYPE_CHECKING:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

# `python -m pytest` puts the checkout on sys.path and plain `pytest` (importlib mode) does not: the
# tests import their helpers as the package `tests.support` and the harness as `benchmarks`.
_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# A module whose `pytestmark` the `-m` expression excludes is not imported (tests/support/quick_collect.py).
pytest_plugins = ["tests.support.quick_collect"]

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# dtype="auto" on CPU measures the kernels once per machine (qwen3_rag._runtime.cpu_choice): the
# suite forces float32, so "auto" is float32 on every machine and the fidelity tests compare
# float32 with float32; a test that lets it measure unsets QWEN3_RAG_CPU_DTYPE. Decisions are
# cached in a folder of this session, never the user's cache dir.
os.environ["QWEN3_RAG_CPU_DTYPE"] = "float32"
os.environ["QWEN3_RAG_CACHE_DIR"] = tempfile.mkdtemp(prefix="qwen3-rag-test-cache-")


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"embedding": folder, "reranker": folder}``: tiny Qwen3 checkpoints (appending tokenizer)."""
    from qwen3_rag.testing import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="session")
def tiny_embedding_path(tiny_checkpoints: dict[str, Path]) -> str:
    return str(tiny_checkpoints["embedding"])


@pytest.fixture(scope="session")
def tiny_reranker_path(tiny_checkpoints: dict[str, Path]) -> str:
    return str(tiny_checkpoints["reranker"])


@overload
def _load_cpu_float32(path: str, kind: Literal["embedding"]) -> Qwen3Embedder: ...
@overload
def _load_cpu_float32(path: str, kind: Literal["reranker"]) -> Qwen3Reranker: ...
def _load_cpu_float32(path: str, kind: str) -> Qwen3Embedder | Qwen3Reranker:
    """A tiny model loaded as most tests load it: float32 on the CPU."""
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    return (Qwen3Embedder if kind == "embedding" else Qwen3Reranker).load(path, device="cpu", dtype="float32")


def _tiny_model_fixture(
    name: str, kind: Literal["embedding", "reranker"], scope: Literal["module", "session"]
) -> Any:
    """The fixture ``name``: the tiny ``kind`` model loaded as most tests load it, once per ``scope``."""

    @pytest.fixture(scope=scope, name=name)
    def load(tiny_checkpoints: dict[str, Path]) -> Qwen3Embedder | Qwen3Reranker:
        return _load_cpu_float32(str(tiny_checkpoints[kind]), kind)

    return load


# `embedder` and `reranker`: module-scoped, as each test module had them; a module that needs other
# options defines its own fixture of the same name. `tiny_embedder` and `tiny_reranker`: loaded once
# for the session; tests only use them.
embedder = _tiny_model_fixture("embedder", "embedding", "module")
reranker = _tiny_model_fixture("reranker", "reranker", "module")
tiny_embedder = _tiny_model_fixture("tiny_embedder", "embedding", "session")
tiny_reranker = _tiny_model_fixture("tiny_reranker", "reranker", "session")


@pytest.fixture(scope="module")
def models(tiny_embedding_path: str, tiny_reranker_path: str) -> tuple[Qwen3Embedder, Qwen3Reranker]:
    """``(embedder, reranker)``, loaded here rather than from the two fixtures above so that a module
    overriding one of them with other options does not change this pair."""
    return (
        _load_cpu_float32(tiny_embedding_path, "embedding"),
        _load_cpu_float32(tiny_reranker_path, "reranker"),
    )


# ----------------------------------------------------------------------------- the `models` marker
# `python -m pytest -m "not models and not slow"` is the quick loop: every test that builds or loads a torch
# model is marked `models`. A test is marked automatically when it uses a fixture below (directly or
# through another fixture, e.g. `tiny_embedding_path`); a test that builds or loads a model some
# other way carries `@pytest.mark.models` itself (or its module a `pytestmark`).
MODEL_FIXTURES = frozenset({"tiny_checkpoints", "vllm_checkpoints"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.models)


@contextlib.contextmanager
def _no_model_built(item: pytest.Item) -> Iterator[None]:
    """In a test without the `models` marker, building a torch module (a model built or loaded in
    this process, by the test or by any of its fixtures) fails at once and names the marker."""
    torch = sys.modules.get("torch")
    if torch is None or item.get_closest_marker("models") is not None:
        yield
        return
    module_class = torch.nn.Module
    real_init = module_class.__init__
    built: list[str] = []

    def message() -> str:
        return (
            f"{item.nodeid} builds a torch model ({built[0]}) but is not marked `models`: add "
            "@pytest.mark.models, or build it through a fixture named in conftest.MODEL_FIXTURES."
        )

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        built.append(type(self).__name__)
        raise AssertionError(message())

    module_class.__init__ = refuse
    try:
        yield
    finally:
        module_class.__init__ = real_init
    if built:  # refused, but the code under test caught the error: still a failure
        raise AssertionError(message())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _no_model_built(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_model_built(item):
        return (yield)


# ----------------------------------------------------------------------------- the `slow` marker
# The quick loop also deselects `slow`: a test that takes more than about a second on an idle
# machine carries @pytest.mark.slow. An unmarked test whose setup and call took longer than
# QUICK_BUDGET_S is named at the end of the run, as a warning only: on a shared machine a test's
# time depends on its neighbours, so failing on it would fail the wrong tests.
QUICK_BUDGET_S = 2.0
_unmarked_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when in ("setup", "call") and not {"models", "slow"}.intersection(report.keywords):
        _unmarked_seconds[report.nodeid] = _unmarked_seconds.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    over = sorted(((s, n) for n, s in _unmarked_seconds.items() if s > QUICK_BUDGET_S), reverse=True)
    if not over:
        return
    terminalreporter.write_sep("=", f"unmarked tests over the quick loop's {QUICK_BUDGET_S:g} s", yellow=True)
    for seconds, nodeid in over:
        terminalreporter.write_line(f"{seconds:6.1f} s  {nodeid}  (slow when idle too? mark it `slow`)")
