"""``dtype="auto"`` on CPU: decided by measurement, cached per machine, explained in one line.

The decision logic and the cache are tested with the timing function injected (a fake
``measure`` returning chosen medians: real timings on this shared machine would make the chosen
kernel random); the real probe runs once on a tiny shape to check what it returns, and once
through a real load. The conftest forces float32 (``QWEN3_RAG_CPU_DTYPE``) and points
``QWEN3_RAG_CACHE_DIR`` at a session folder; the tests here unset the force and use their own
``tmp_path`` for the cache.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from qwen3_rag import Qwen3Embedder, Qwen3Reranker
from qwen3_rag._errors import InvalidOptionError
from qwen3_rag._runtime import cpu_choice
from qwen3_rag._runtime.cpu_choice import CACHE_FILE, ENV_CACHE_DIR, ENV_FORCE, MARGIN, choose, decide
from qwen3_rag._runtime.cpu_probe import LayerShape, ProbeResult, time_kernels
from qwen3_rag._runtime.packing import PackedLinear, TiledLinear

SHAPE = LayerShape(1024, 2048, 3072)


class FakeMeasure:
    """A ``measure`` that returns fixed medians and counts its calls."""

    def __init__(self, **seconds: float) -> None:
        self.seconds = {k.replace("_", "-"): v for k, v in seconds.items()}
        self.calls = 0

    def __call__(self, shape: LayerShape) -> ProbeResult:
        self.calls += 1
        return ProbeResult(dict(self.seconds), rows=128, rounds=5, cost_s=0.42)


@pytest.fixture
def measuring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """``auto`` measures (no force), with the cache in ``tmp_path``; no memo from other tests."""
    monkeypatch.delenv(ENV_FORCE, raising=False)
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path))
    cpu_choice.forget()
    yield tmp_path
    cpu_choice.forget()


# ----------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    ("seconds", "kernel"),
    [
        ({"float32": 3.0, "float32-onednn": 3.0, "bfloat16": 1.0}, "bfloat16"),  # this EPYC
        ({"float32": 1.0, "float32-onednn": 1.0, "bfloat16": 1.6}, "float32"),  # the Xeon of issue 25
        ({"float32": 1.0, "float32-onednn": 0.95, "bfloat16": 0.95}, "float32"),  # within the margin
        ({"float32": 2.0, "float32-onednn": 1.0, "bfloat16": 1.5}, "float32-onednn"),
        ({"float32": 2.0, "float32-onednn": 1.0, "bfloat16": 0.8}, "bfloat16"),  # beats oneDNN by 1.25x
        ({"float32": 2.0, "float32-onednn": 1.0, "bfloat16": 0.95}, "float32-onednn"),  # not by 1.1x
        ({"float32": 1.0, "bfloat16": 0.5}, "bfloat16"),  # a torch without oneDNN
        ({"float32": 1.0}, "float32"),
    ],
)
def test_the_decision_rule(seconds: dict[str, float], kernel: str) -> None:
    assert decide(seconds) == kernel


def test_auto_is_never_below_the_margin_of_the_fastest() -> None:
    """Whatever the timings, the pick is at most MARGIN slower than the fastest kernel (>= 0.9x)."""
    grid = [0.5, 0.8, 0.95, 1.0, 1.05, 1.09, 1.11, 1.3, 2.0, 3.2]
    for onednn in grid:
        for bf16 in grid:
            seconds = {"float32": 1.0, "float32-onednn": onednn, "bfloat16": bf16}
            picked = seconds[decide(seconds)]
            assert picked <= MARGIN * min(seconds.values()) + 1e-12, seconds


def test_the_rule_needs_the_float32_timing() -> None:
    with pytest.raises(ValueError, match="float32"):
        decide({"bfloat16": 1.0})


# ----------------------------------------------------------------- measured once, then cached
def test_first_choice_measures_and_writes_the_cache(measuring: Path) -> None:
    measure = FakeMeasure(float32=3.0, float32_onednn=2.9, bfloat16=1.0)
    choice = choose(SHAPE, measure=measure)
    assert (choice.kernel, choice.how, choice.dtype, measure.calls) == (
        "bfloat16",
        "measured",
        torch.bfloat16,
        1,
    )
    assert choice.probe_s == pytest.approx(0.42)
    data = json.loads((measuring / CACHE_FILE).read_text())
    (key, entry), *others = data["entries"].items()
    assert not others
    assert entry["kernel"] == "bfloat16" and entry["seconds"]["bfloat16"] == 1.0
    assert "AMD" in key or cpu_choice.cpu_model() in key
    assert "torch " + torch.__version__ in key and f"{torch.get_num_threads()} threads" in key
    assert "layer 1024x2048x3072" in key
    line = choice.explain()
    assert "\n" not in line
    assert line.startswith("dtype='auto' on CPU: bfloat16 (")
    assert "bfloat16 3.00x" in line and "float32-onednn 1.03x" in line and "probed in 0.42 s" in line


def test_later_loads_read_the_decision_and_pay_nothing(measuring: Path) -> None:
    measure = FakeMeasure(float32=1.0, float32_onednn=1.0, bfloat16=1.7)
    first = choose(SHAPE, measure=measure)
    again = choose(SHAPE, measure=measure)  # same process: the memo
    cpu_choice.forget()  # a new process: the file
    later = choose(SHAPE, measure=measure)
    assert measure.calls == 1
    assert first.kernel == again.kernel == later.kernel == "float32"
    for choice in (again, later):
        assert choice.how == "cached" and choice.probe_s == 0.0
        assert choice.seconds == first.seconds
    assert f"read from {measuring / CACHE_FILE}" in later.explain()
    assert "bfloat16 0.59x" in later.explain()


def test_another_machine_or_torch_or_shape_measures_again(
    measuring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measure = FakeMeasure(float32=1.0, float32_onednn=1.0, bfloat16=0.5)
    choose(SHAPE, measure=measure)
    choose(LayerShape(2560, 4096, 9728), measure=measure)
    assert measure.calls == 2
    monkeypatch.setattr(cpu_choice, "cpu_model", lambda: "Intel(R) Xeon(R) Platinum 8480+")
    choose(SHAPE, measure=measure)
    monkeypatch.setattr(torch, "__version__", "2.99.0")
    choose(SHAPE, measure=measure)
    assert measure.calls == 4
    assert len(json.loads((measuring / CACHE_FILE).read_text())["entries"]) == 4


def test_a_damaged_cache_file_is_measured_again_and_rewritten(measuring: Path) -> None:
    (measuring / CACHE_FILE).write_text("{not json", encoding="utf-8")
    measure = FakeMeasure(float32=1.0, bfloat16=0.5)
    assert choose(SHAPE, measure=measure).kernel == "bfloat16"
    assert measure.calls == 1
    assert json.loads((measuring / CACHE_FILE).read_text())["format"] == 1


def test_an_unwritable_cache_dir_still_chooses(
    measuring: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = measuring / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(ENV_CACHE_DIR, str(blocker / "cache"))  # a folder under a file
    with caplog.at_level(logging.WARNING):
        choice = choose(SHAPE, measure=FakeMeasure(float32=1.0, bfloat16=0.5))
    assert choice.kernel == "bfloat16"
    assert "could not be cached" in caplog.text


def test_the_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_CACHE_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cpu_choice.cache_dir() == tmp_path / "qwen3-rag"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cpu_choice.cache_dir() == tmp_path / "home" / ".cache" / "qwen3-rag"


# ----------------------------------------------------------------- forced
@pytest.mark.parametrize(
    ("value", "kernel"), [("bfloat16", "bfloat16"), ("bf16", "bfloat16"), ("FLOAT32", "float32")]
)
def test_the_environment_forces_a_choice(
    measuring: Path, monkeypatch: pytest.MonkeyPatch, value: str, kernel: str
) -> None:
    monkeypatch.setenv(ENV_FORCE, value)
    measure = FakeMeasure(float32=1.0)
    choice = choose(SHAPE, measure=measure)
    assert (choice.kernel, choice.how, measure.calls) == (kernel, "forced", 0)
    assert choice.explain() == f"dtype='auto' on CPU: {kernel} (forced by {ENV_FORCE}={kernel})"
    assert not (measuring / CACHE_FILE).exists()


def test_a_bad_forced_value_is_one_clear_error(measuring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FORCE, "int8")
    with pytest.raises(
        InvalidOptionError, match=r"QWEN3_RAG_CPU_DTYPE='int8'.*float32, float32-onednn, bfloat16"
    ):
        choose(SHAPE, measure=FakeMeasure(float32=1.0))


# ----------------------------------------------------------------- through a real load
@pytest.fixture
def fresh_checkpoints(tiny_checkpoints: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """Tiny checkpoints of this test's own (their own cache entries); through ``tiny_checkpoints``
    the test is marked ``models``."""
    from qwen3_rag.testing import write_tiny_checkpoints

    return write_tiny_checkpoints(tmp_path / "fresh")


def test_auto_loads_what_was_measured_and_says_why(
    measuring: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_checkpoints: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    folders = fresh_checkpoints  # their own cache entries
    measure = FakeMeasure(float32=2.0, float32_onednn=1.0, bfloat16=1.5)
    monkeypatch.setattr(cpu_choice, "time_kernels", measure)
    with caplog.at_level(logging.INFO, logger="qwen3_rag"):
        embedder = Qwen3Embedder.load(str(folders["embedding"]), device="cpu")
        reranker = Qwen3Reranker.load(str(folders["reranker"]), device="cpu")
    assert measure.calls == 1  # same layer shape: the reranker reads the embedder's decision
    for model, decoder in ((embedder, embedder.model), (reranker, reranker.model.model)):
        assert model.runtime.dtype == torch.float32 and model.runtime.kernel == "float32-onednn"
        assert {type(m) for m in decoder.modules() if isinstance(m, (torch.nn.Linear, PackedLinear))} == {
            PackedLinear
        }
        assert "kernel='oneDNN'" in repr(model)
        assert "auto=\"dtype='auto' on CPU: float32-onednn (" in repr(model)
    assert "probed in 0.42 s" in repr(embedder) and "read from" in repr(reranker)
    assert "embedding" in caplog.text and "dtype='auto' on CPU: float32-onednn" in caplog.text
    assert embedder.embed_documents(["Paris is the capital of France."]).shape == (1, 64)


def test_auto_bfloat16_on_cpu_gets_tiled_layers(
    measuring: Path, monkeypatch: pytest.MonkeyPatch, fresh_checkpoints: dict[str, Path]
) -> None:
    folders = fresh_checkpoints
    monkeypatch.setattr(
        cpu_choice, "time_kernels", FakeMeasure(float32=3.0, float32_onednn=3.0, bfloat16=1.0)
    )
    embedder = Qwen3Embedder.load(str(folders["embedding"]), device="cpu")
    assert embedder.runtime.dtype == torch.bfloat16
    kinds = {type(m) for m in embedder.model.modules() if isinstance(m, (torch.nn.Linear, TiledLinear))}
    assert kinds == {TiledLinear}


def test_an_explicit_dtype_is_never_second_guessed(
    measuring: Path, monkeypatch: pytest.MonkeyPatch, tiny_embedding_path: str
) -> None:
    measure = FakeMeasure(float32=3.0, float32_onednn=3.0, bfloat16=1.0)  # auto would pick bf16
    monkeypatch.setattr(cpu_choice, "time_kernels", measure)
    exact = Qwen3Embedder.load(tiny_embedding_path, device="cpu", dtype="float32")
    assert exact.runtime.dtype == torch.float32 and exact.runtime.kernel is None
    assert exact.backend.dtype_note is None and "auto=" not in repr(exact)
    int8 = Qwen3Embedder.load(tiny_embedding_path, device="cpu", quantize="int8")
    assert int8.runtime.dtype == torch.float32
    assert measure.calls == 0 and not (measuring / CACHE_FILE).exists()


def test_a_folder_without_layer_shapes_is_one_clear_error(measuring: Path, tmp_path: Path) -> None:
    from qwen3_rag._errors import ModelLoadError

    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen3"}', encoding="utf-8")
    with pytest.raises(ModelLoadError, match=r"does not give the layer shapes.*dtype='float32'"):
        Qwen3Embedder.load(str(folder), device="cpu")


# ----------------------------------------------------------------- the real probe
@pytest.mark.models
def test_the_real_probe_times_every_candidate() -> None:
    result = time_kernels(LayerShape(64, 64, 128), budget_s=0.2)
    assert set(result.seconds) == {"float32", "float32-onednn", "bfloat16"}
    assert all(s > 0 for s in result.seconds.values())
    assert 3 <= result.rounds <= 9 and result.rows == 256 and result.cost_s > 0
    assert LayerShape(1024, 2048, 3072).probe_rows() == 128  # the 0.6B shape
    assert LayerShape(4096, 4096, 12288).probe_rows() == 32  # 8B: fewer rows, same bounded cost


def test_the_layer_shape_comes_from_the_config(tiny_embedding_path: str) -> None:
    shape = LayerShape.from_folder(Path(tiny_embedding_path))
    assert shape == LayerShape(64, 64, 128)


def test_a_real_load_measures_once_and_caches(measuring: Path, fresh_checkpoints: dict[str, Path]) -> None:
    folders = fresh_checkpoints
    embedder = Qwen3Embedder.load(str(folders["embedding"]), device="cpu")
    choice = embedder.backend.cpu_choice
    assert choice is not None and choice.how == "measured" and choice.probe_s > 0
    assert choice.kernel in ("float32", "float32-onednn", "bfloat16")
    assert set(choice.seconds) == {"float32", "float32-onednn", "bfloat16"}
    assert (measuring / CACHE_FILE).exists()
    cpu_choice.forget()
    reranker = Qwen3Reranker.load(str(folders["reranker"]), device="cpu")
    assert reranker.backend.cpu_choice.how == "cached" and reranker.backend.cpu_choice.probe_s == 0.0
    assert reranker.backend.cpu_choice.kernel == choice.kernel


# ----------------------------------------------------------------- where the line is shown
def test_cli_verbose_prints_the_choice(
    measuring: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse

    from qwen3_rag._cli.hardware import add_hardware_arguments, hardware_options

    folders = fresh_checkpoints
    monkeypatch.setattr(
        cpu_choice, "time_kernels", FakeMeasure(float32=1.0, float32_onednn=1.0, bfloat16=1.5)
    )
    parser = argparse.ArgumentParser()
    add_hardware_arguments(parser)
    options = hardware_options(parser.parse_args(["--device", "cpu", "--verbose"]))
    Qwen3Embedder.load(str(folders["embedding"]), **options)
    err = capsys.readouterr().err
    assert "dtype='auto' on CPU: float32 (this model's layer shapes vs float32 nn.Linear:" in err
    assert "bfloat16 0.67x" in err


async def test_serve_says_what_auto_chose_when_ready(
    measuring: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_checkpoints: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    from qwen3_rag.server import create_app

    folders = fresh_checkpoints
    monkeypatch.setattr(
        cpu_choice, "time_kernels", FakeMeasure(float32=3.0, float32_onednn=3.0, bfloat16=1.0)
    )

    def loader() -> tuple[Qwen3Embedder, Qwen3Reranker]:
        return (
            Qwen3Embedder.load(str(folders["embedding"]), device="cpu"),
            Qwen3Reranker.load(str(folders["reranker"]), device="cpu"),
        )

    app = create_app(loader=loader)
    with caplog.at_level(logging.INFO):
        async with app.router.lifespan_context(app):
            for _ in range(500):
                if "models loaded; ready" in caplog.text:
                    break
                await asyncio.sleep(0.01)
    (line,) = [r.getMessage() for r in caplog.records if "models loaded; ready" in r.getMessage()]
    assert "; embedding: dtype='auto' on CPU: bfloat16 (" in line
    assert "; reranker: dtype='auto' on CPU: bfloat16 (" in line and "read from" in line
