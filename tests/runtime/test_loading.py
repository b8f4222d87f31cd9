"""Shared loading, kind checks, and clear errors for bad models, options and inputs."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qwen3_rag import (
    InvalidOptionError,
    ModelLoadError,
    Qwen3Embedder,
    Qwen3Reranker,
    SharedBatcherWarning,
    WrongModelKindError,
)
from qwen3_rag._runtime import loading
from qwen3_rag.testing import write_tiny_checkpoints

ROOT = Path(__file__).resolve().parents[2]


def test_same_model_loaded_once_and_shared(tiny_embedding_path: str) -> None:
    a = Qwen3Embedder.load(tiny_embedding_path)
    b = Qwen3Embedder.load(
        tiny_embedding_path + "/", dimensions=32, instruction="Retrieve semantically similar text"
    )
    assert a.model is b.model and a.runtime.batcher is b.runtime.batcher
    assert (a.dimensions, b.dimensions) == (64, 32)


@pytest.mark.models
def test_concurrent_first_loads_load_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(write_tiny_checkpoints(tmp_path, seed=3)["embedding"])
    calls: list[str] = []
    real = loading._load_weights

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(args[1]))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loading, "_load_weights", counting)
    results: list[Qwen3Embedder] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        results.append(Qwen3Embedder.load(path))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 8
    assert all(r.model is results[0].model for r in results)
    results[0].close()


def test_other_dtype_is_a_separate_runtime(tiny_embedding_path: str) -> None:
    fp32 = Qwen3Embedder.load(tiny_embedding_path, dtype="float32")
    bf16 = Qwen3Embedder.load(tiny_embedding_path, dtype="bfloat16")
    assert fp32.model is not bf16.model
    # bf16 is close to fp32, not equal: it is never chosen on CPU unless asked for.
    texts = ["bf16 accuracy check", "another text"]
    assert np.abs(fp32.embed_documents(texts) - bf16.embed_documents(texts)).max() < 0.1
    bf16.close()


@pytest.mark.models
def test_a_later_load_asking_for_other_batcher_settings_warns(tmp_path: Path) -> None:
    path = str(write_tiny_checkpoints(tmp_path, seed=5)["embedding"])
    options: dict[str, Any] = {"device": "cpu", "dtype": "float32"}
    first = Qwen3Embedder.load(path, **options, batch_tokens=1024, max_wait_ms=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asking for nothing, or for what is in force, is quiet
        Qwen3Embedder.load(path, **options)
        Qwen3Embedder.load(path, **options, batch_tokens=1024, dimensions=32)
    with pytest.warns(SharedBatcherWarning) as caught:
        later = Qwen3Embedder.load(path, **options, batch_tokens=2048, max_wait_ms=5, max_queue_items=10)
    (warning,) = caught.list
    assert warning.filename == __file__  # points at the load that asked, not into qwen3_rag
    assert isinstance(warning.message, SharedBatcherWarning)
    assert warning.message.requested == {"batch_tokens": 2048, "max_queue_items": 10}
    assert warning.message.in_force == loading.BatchingOptions(1024, None, 5, 100_000)
    message = str(warning.message)
    assert "asked for batch_tokens=2048, max_queue_items=10, which is not applied" in message
    assert "batch_tokens=1024, max_batch_size=None, max_wait_ms=5, max_queue_items=100000" in message
    assert path in message and "close_all()" in message and "separate process" in message
    assert later.runtime is first.runtime and later.runtime.batcher.token_budget == 1024

    first.close()  # closed everywhere: the next load sets the batcher up again, quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = Qwen3Embedder.load(path, **options, batch_tokens=2048)
    assert again.runtime.batcher.token_budget == 2048
    again.close()


@pytest.mark.models
def test_the_default_batch_budget_is_what_a_later_load_is_compared_with(tmp_path: Path) -> None:
    path = str(write_tiny_checkpoints(tmp_path, seed=6)["reranker"])
    first = Qwen3Reranker.load(path, device="cpu", dtype="float32")
    default = loading.default_batch_tokens(first.runtime.device)
    assert first.runtime.batching.batch_tokens == default
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Qwen3Reranker.load(path, device="cpu", dtype="float32", batch_tokens=default)
    with pytest.warns(SharedBatcherWarning, match=f"batch_tokens={default},"):
        Qwen3Reranker.load(path, device="cpu", dtype="float32", batch_tokens=default // 2)
    first.close()


@pytest.mark.models
def test_closed_runtime_reloads_on_next_load(tmp_path: Path) -> None:
    path = str(write_tiny_checkpoints(tmp_path, seed=4)["reranker"])
    first = Qwen3Reranker.load(path)
    first.close()
    second = Qwen3Reranker.load(path)
    assert second.model is not first.model and len(second.score("q", ["d"])) == 1
    second.close()


def test_reranker_loaded_as_embedder_is_refused(tiny_reranker_path: str, tiny_embedding_path: str) -> None:
    with pytest.raises(WrongModelKindError, match=r"reranker checkpoint.*Qwen3Reranker\.load") as info:
        Qwen3Embedder.load(tiny_reranker_path)
    assert (info.value.expected, info.value.found) == ("embedding", "reranker")
    with pytest.raises(WrongModelKindError, match=r"embedding checkpoint.*Qwen3Embedder\.load") as info:
        Qwen3Reranker.load(tiny_embedding_path)
    assert (info.value.expected, info.value.found) == ("reranker", "embedding")


def test_missing_local_folder_says_where_and_how(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "Qwen3-Embedding-0.6B"
    with pytest.raises(ModelLoadError) as info:
        Qwen3Embedder.load(str(missing))
    message = str(info.value)
    assert str(missing) in message and "local" in message and "python -m qwen3_rag.testing" in message


def test_unreachable_hub_names_model_cache_and_local_option() -> None:
    # HF_HUB_OFFLINE=1 (set by conftest) makes the Hub unreachable, as on this machine.
    with pytest.raises(ModelLoadError) as info:
        Qwen3Embedder.load("no-such-org/Qwen3-Embedding-0.6B-missing")
    message = str(info.value)
    assert "'no-such-org/Qwen3-Embedding-0.6B-missing'" in message
    assert "Hub" in message and "cache" in message and "local copy" in message


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        Qwen3Embedder.load(str(tmp_path))


@pytest.mark.parametrize("dimensions", [0, 16, 31, 65, 1024, True, 32.0, "64"])
def test_mrl_dimensions_out_of_range(tiny_embedding_path: str, dimensions: object) -> None:
    with pytest.raises(InvalidOptionError, match="from 32 to 64"):
        Qwen3Embedder.load(tiny_embedding_path, dimensions=dimensions)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value", "pattern"),
    [
        ("device", "tpu9", "not a torch device"),
        ("device", "cuda", "CUDA is not available"),
        ("dtype", "int8", "valid: 'auto'"),
        ("max_length", 0, "max_length"),
        ("max_length", -3, "max_length"),
        ("instruction", "", "instruction"),
        ("instruction", None, "instruction"),
    ],
)
def test_bad_options(tiny_embedding_path: str, option: str, value: object, pattern: str) -> None:
    with pytest.raises(InvalidOptionError, match=pattern):
        Qwen3Embedder.load(tiny_embedding_path, **{option: value})  # type: ignore[arg-type]


def test_reranker_max_length_must_fit_the_template(tiny_reranker_path: str) -> None:
    with pytest.raises(InvalidOptionError, match="max_length"):
        Qwen3Reranker.load(tiny_reranker_path, max_length=5)


def test_empty_list_and_empty_string(tiny_embedding_path: str, tiny_reranker_path: str) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path, dimensions=48)
    assert embedder.embed_documents([]).shape == (0, 48)
    assert embedder.embed_queries([]).shape == (0, 48)
    assert embedder.embed_documents([""]).shape == (1, 48)
    reranker = Qwen3Reranker.load(tiny_reranker_path)
    assert reranker.score("q", []) == []
    assert len(reranker.score("", [""])) == 1


@pytest.mark.parametrize(
    ("texts", "pattern"),
    [
        (["ok", None], r"texts\[1\] is NoneType"),
        (["ok", "fine", 3], r"texts\[2\] is int"),
        ("a bare string", "single str"),
        (None, "list of strings"),
        ([b"bytes"], r"texts\[0\] is bytes"),
    ],
)
def test_non_strings_are_type_errors_naming_the_index(
    tiny_embedding_path: str, texts: object, pattern: str
) -> None:
    embedder = Qwen3Embedder.load(tiny_embedding_path)
    with pytest.raises(TypeError, match=pattern):
        embedder.embed_documents(texts)  # type: ignore[arg-type]


def test_reranker_type_errors(tiny_reranker_path: str) -> None:
    reranker = Qwen3Reranker.load(tiny_reranker_path)
    with pytest.raises(TypeError, match=r"documents\[1\] is NoneType"):
        reranker.score("q", ["a", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="query must be a string"):
        reranker.score(None, ["a"])  # type: ignore[arg-type]


@pytest.mark.models
def test_testing_module_command_writes_loadable_checkpoints(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qwen3_rag.testing", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "embedding" / "config.json").is_file()
    assert (tmp_path / "reranker" / "tokenizer.json").is_file()
    embedder = Qwen3Embedder.load(str(tmp_path / "embedding"))
    assert embedder.embed_documents(["smoke"]).shape == (1, 64)
    embedder.close()


def test_fingerprint_follows_the_weights_not_the_folder(tmp_path: Path, tiny_embedding_path: str) -> None:
    import shutil

    copy = tmp_path / "copy-of-embedding"
    shutil.copytree(tiny_embedding_path, copy)
    other = write_tiny_checkpoints(tmp_path / "other", seed=21)["embedding"]
    original = Qwen3Embedder.load(tiny_embedding_path).fingerprint
    assert Qwen3Embedder.load(str(copy)).fingerprint == original
    assert Qwen3Embedder.load(str(other)).fingerprint != original


def test_trust_remote_code_is_never_enabled() -> None:
    sources = [p for p in (ROOT / "qwen3_rag").rglob("*.py")] + list((ROOT / "integrations").rglob("*.py"))
    offenders = [str(p) for p in sources if re.search(r"trust_remote_code\s*=\s*True", p.read_text())]
    assert sources and not offenders


@pytest.mark.models
def test_loading_passes_trust_remote_code_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    seen: list[Any] = []
    for name in ("AutoModel", "AutoTokenizer"):
        cls = getattr(transformers, name)
        real = cls.from_pretrained

        def spy(*args: Any, __real: Any = real, **kwargs: Any) -> Any:
            seen.append(kwargs.get("trust_remote_code", "missing"))
            return __real(*args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", spy)
    Qwen3Embedder.load(str(write_tiny_checkpoints(tmp_path, seed=13)["embedding"])).close()
    assert seen == [False, False]
