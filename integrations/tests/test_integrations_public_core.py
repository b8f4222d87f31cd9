"""The adapters stand on qwen3-rag's public API alone (issue 21): no private module imported, no
upper pin on qwen3-rag, and every model field's default the core's own (one copy of the defaults,
in ``qwen3_rag.ModelOptions`` and the models' constructors)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from qwen3_rag import ModelOptions, Qwen3Embedder, Qwen3Reranker
from tests.support.imports import private_qwen3_rag_imports

INTEGRATIONS = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in INTEGRATIONS.iterdir() if (p / "pyproject.toml").is_file())


def _adapter_sources() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in package.rglob("*.py")
        if "tests" not in path.relative_to(package).parts
    ]


def test_the_packages_and_their_sources_are_found() -> None:
    assert len(PACKAGES) >= 4 and len(_adapter_sources()) >= 10  # the checks below look at something


@pytest.mark.parametrize("path", _adapter_sources(), ids=lambda p: str(p.relative_to(INTEGRATIONS)))
def test_no_adapter_imports_a_private_qwen3_rag_module(path: Path) -> None:
    private = private_qwen3_rag_imports(path)
    assert private == [], f"{path.name} imports private qwen3-rag names: {private}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_no_adapter_pins_qwen3_rag_below_a_version(package: Path) -> None:
    text = (package / "pyproject.toml").read_text(encoding="utf-8")
    requirements = re.findall(r'"(qwen3-rag(?:\[[^\]]*\])?[^"]*)"', text)
    assert requirements, f"{package.name} does not require qwen3-rag"
    assert all("<" not in r for r in requirements), requirements


def _core_defaults(model: type[Any]) -> dict[str, Any]:
    """``load``'s defaults: the backend options' (ModelOptions) and the view options' (__init__)."""
    options = ModelOptions()
    defaults = {name: getattr(options, name) for name in ModelOptions.names() if hasattr(options, name)}
    defaults |= {name: getattr(options.batching, name) for name in ModelOptions.names() - set(defaults)}
    view = inspect.signature(model.__init__).parameters
    defaults |= {name: p.default for name, p in view.items() if p.default is not inspect.Parameter.empty}
    return defaults


def _pydantic_defaults(cls: type[Any]) -> dict[str, Any]:
    return {name: field.default for name, field in cls.model_fields.items()}


def _adapters() -> list[tuple[type[Any], type[Any], dict[str, str]]]:
    """(adapter class, core model class, {field: option} where the names differ)."""
    found: list[tuple[type[Any], type[Any], dict[str, str]]] = []
    lc = pytest.importorskip("langchain_qwen3_rag")
    found += [
        (lc.Qwen3Embeddings, Qwen3Embedder, {"query_instruction": "instruction"}),
        (lc.Qwen3Rerank, Qwen3Reranker, {}),
        (lc.Qwen3RagRetriever, Qwen3Reranker, {}),
    ]
    li_embeddings = pytest.importorskip("llama_index.embeddings.qwen3_rag")
    li_rerank = pytest.importorskip("llama_index.postprocessor.qwen3_rag_rerank")
    found += [
        (li_embeddings.Qwen3Embedding, Qwen3Embedder, {"query_instruction": "instruction"}),
        (li_rerank.Qwen3Rerank, Qwen3Reranker, {}),
    ]
    return found


def test_adapter_fields_default_to_the_core_defaults() -> None:
    checked = 0
    for adapter, model, renamed in _adapters():
        core = _core_defaults(model)
        for field, default in _pydantic_defaults(adapter).items():
            option = renamed.get(field, field)
            per_call = field == "instruction"  # the rerankers' per-call instruction, not a model option
            if option in core and not per_call:
                assert default == core[option], f"{adapter.__name__}.{field}: {default!r} != {core[option]!r}"
                checked += 1
    assert checked >= 25  # device, dtype, quantize, max_length, base_url, api_key, timeout, ... per adapter


def test_the_llama_index_retriever_defaults_to_the_core_defaults() -> None:
    retrievers = pytest.importorskip("llama_index.retrievers.qwen3_rag")
    params = inspect.signature(retrievers.Qwen3RagRetriever.__init__).parameters
    options = ModelOptions()
    for name in ("device", "dtype", "base_url", "api_key", "timeout"):
        assert params[name].default == getattr(options, name), name


def test_the_retrievers_pass_their_model_fields_on_as_model_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both framework retrievers hand the core one ``ModelOptions`` per model (no repacked dict):
    here on the device and dtype given, or on the server (the reranker's own URL when given)."""
    lc = pytest.importorskip("langchain_qwen3_rag")
    li = pytest.importorskip("llama_index.retrievers.qwen3_rag")
    from qwen3_rag.pipeline import TwoStageRetriever

    passed: list[dict[str, Any]] = []

    def recorded(store: Any = None, **options: Any) -> Any:
        passed.append(options)
        return object()  # stands for the pipeline: only what the adapters pass is checked here

    monkeypatch.setattr(TwoStageRetriever, "from_collection", recorded)
    here = ModelOptions(device="cpu", dtype="float32")
    remote = ModelOptions(base_url="http://e/v1", api_key="k", timeout=5.0)
    reranker = ModelOptions(base_url="http://r/v1", api_key="k", timeout=5.0)
    lc.Qwen3RagRetriever(device="cpu", dtype="float32")
    li.Qwen3RagRetriever(device="cpu", dtype="float32")
    lc.Qwen3RagRetriever(base_url="http://e/v1", reranker_base_url="http://r/v1", api_key="k", timeout=5.0)
    li.Qwen3RagRetriever(base_url="http://e/v1", reranker_base_url="http://r/v1", api_key="k", timeout=5.0)
    assert [(p["embedding_options"], p["reranker_options"]) for p in passed] == [
        (here, here),
        (here, here),
        (remote, reranker),
        (remote, reranker),
    ]
