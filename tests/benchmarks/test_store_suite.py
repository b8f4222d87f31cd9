"""The store benchmark suite (issue 19) runs end to end at a tiny size and renders its section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_store_suite_measures_every_engine_and_renders(tmp_path: Path) -> None:
    from benchmarks.report import store_table, store_targets
    from benchmarks.store import main

    out = tmp_path / "store.json"
    argv = ["--sizes", "1000", "3000", "--local-max", "1000", "--queries", "4", "--json", str(out)]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    rows = {(r["engine"], r["points"]): r for r in data["rows"]}
    assert set(rows) == {(e, n) for e in ("edge", "local", "numpy") for n in (1000, 3000)}
    assert "not run" in rows["local", 3000]["skipped"]
    for engine in ("edge", "local"):
        row = rows[engine, 1000]
        assert "error" not in row, row
        assert len(row["windows_points_per_s"]) == 1 and row["ingest_points_per_s"] > 0
        assert row["open_s"] > 0 and row["rss_after_open_mb"] > 0 and row["disk_mb"] > 0
        assert row["hybrid_ms"]["p50"] > 0 and row["filtered_ms"]["p95"] >= row["filtered_ms"]["p50"]
        assert row["recall_at_50"] == 1.0  # exact search below the index size
    assert rows["numpy", 3000]["recall_at_50"] == 1.0
    assert store_targets(data)[0][1] == "not measured in this run"  # no run of 10k or more
    targets = store_targets({"rows": [{**rows["edge", 1000], "points": 100_000}]})  # as if at 100k
    assert len(targets) == 7 and all(t[0].startswith("Qdrant Edge at 100k points: ") for t in targets)
    recall = "Qdrant Edge at 100k points: HNSW recall@50 vs exact >= 0.98 (clustered vectors) (issue 19)"
    assert targets[-1] == (recall, "1.000", True)
    text = "\n".join(store_table(data))
    assert "| edge | 1,000 |" in text and "| local | 3,000 | not run" in text
