"""``qwen3-rag eval`` on a BEIR-layout fixture of real text (stdlib docstrings, known-item queries).

The numbers are checked against the metric library run independently on the saved TREC runs, and
hybrid must beat dense-only: with random-weight models the dense half is near chance, so only the
lexical (sparse) half can find a document from words of its own first line.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ir_measures = pytest.importorskip("ir_measures")

from qwen3_rag._cli.eval import main  # noqa: E402
from qwen3_rag.evaluation import MODES  # noqa: E402
from qwen3_rag.evaluation._metrics import run_file_name  # noqa: E402
from tests.support.eval_fixture import write_dataset  # noqa: E402

QUERIES = 30
MEASURES = {"nDCG@10": "nDCG@10", "Recall@10": "R@10", "Recall@100": "R@100", "MRR@10": "RR@10"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("beir") / "stdlib-docs", documents=160, queries=QUERIES)


@pytest.fixture(scope="module")
def models(tiny_embedding_path: str, tiny_reranker_path: str) -> list[str]:
    return [
        "--embedding-model",
        tiny_embedding_path,
        "--reranker-model",
        tiny_reranker_path,
        "--device",
        "cpu",
        "--no-progress",
        "--top-k",
        "20",
        "--chunk-tokens",
        "128",  # some documents take several chunks: runs must still list each document once
    ]


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def full(dataset: Path, models: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One evaluation of every judged query with --json, --save-runs and --chart."""
    where = tmp_path_factory.mktemp("out")
    code, out = run(
        [str(dataset), *models, "--json", "--save-runs", str(where / "runs"), "--chart", str(where / "c.png")]
    )
    assert code == 0, out
    return {"report": json.loads(out), "runs": where / "runs", "chart": where / "c.png"}


def beir_qrels(dataset: Path) -> dict[str, dict[str, int]]:
    lines = (dataset / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    qrels: dict[str, dict[str, int]] = {}
    for line in lines:
        query, doc, score = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(score)
    return qrels


def test_json_report_has_every_metric_of_every_mode(full: dict[str, Any]) -> None:
    report = full["report"]
    assert report["queries"] == QUERIES and report["documents"] == 160 and report["top_k"] == 20
    assert report["chunks"] > report["documents"]  # several chunks for some documents
    assert list(report["metrics"]) == list(MODES)
    for values in report["metrics"].values():
        assert set(values) == set(MEASURES) and all(0.0 <= v <= 1.0 for v in values.values())


def test_saved_runs_rescored_by_the_library_give_the_reported_numbers(
    full: dict[str, Any], dataset: Path
) -> None:
    qrels = beir_qrels(dataset)
    saved = {
        (r.query_id, r.doc_id, r.relevance)
        for r in ir_measures.read_trec_qrels(str(full["runs"] / "qrels.txt"))
    }
    assert saved == {(q, d, rel) for q, docs in qrels.items() for d, rel in docs.items()}
    measures = [ir_measures.parse_measure(m) for m in MEASURES.values()]
    corpus = {json.loads(line)["_id"] for line in (dataset / "corpus.jsonl").open(encoding="utf-8")}
    for mode in MODES:
        path = full["runs"] / run_file_name(mode)
        scored = list(ir_measures.read_trec_run(str(path)))
        pairs = [(r.query_id, r.doc_id) for r in scored]
        assert len(pairs) == len(set(pairs)), f"{mode}: a document listed twice for one query (chunks?)"
        assert {d for _, d in pairs} <= corpus and len({q for q, _ in pairs}) == QUERIES
        values = ir_measures.calc_aggregate(measures, qrels, scored)
        got = {name: values[m] for name, m in zip(MEASURES, measures, strict=True)}
        assert got == full["report"]["metrics"][mode], mode  # exactly, not approximately


def test_hybrid_beats_dense_with_random_weights(full: dict[str, Any]) -> None:
    metrics = full["report"]["metrics"]
    for name in ("nDCG@10", "Recall@10", "MRR@10"):
        assert metrics["hybrid"][name] > metrics["dense"][name] + 0.2, (name, metrics)
    # Reranking reorders the same candidates: what is in the list does not change.
    assert metrics["dense+rerank"]["Recall@100"] == metrics["dense"]["Recall@100"]
    assert metrics["hybrid+rerank"]["Recall@100"] == metrics["hybrid"]["Recall@100"]


def test_chart_is_a_png(full: dict[str, Any]) -> None:
    import matplotlib.image

    data = full["chart"].read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    height, width = matplotlib.image.imread(str(full["chart"])).shape[:2]
    assert width > 400 and height > 200


def test_table_and_max_queries(dataset: Path, models: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run([str(dataset), *models, "--max-queries", "5"])
    assert code == 0, out
    assert "160 documents" in out and "5 queries x 4 modes" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    assert rows["mode"] == list(MEASURES)
    for mode in MODES:
        assert len(rows[mode]) == 4 and all(0 <= float(v.rstrip("*")) <= 1 for v in rows[mode])
    assert "queries" not in capsys.readouterr().err.replace("5 queries", "")  # no progress bar off a tty


def test_max_queries_limits_the_runs(dataset: Path, models: list[str], tmp_path: Path) -> None:
    code, out = run([str(dataset), *models, "--max-queries", "3", "--json", "--save-runs", str(tmp_path)])
    assert code == 0 and json.loads(out)["queries"] == 3
    first = [json.loads(line)["_id"] for line in (dataset / "queries.jsonl").open(encoding="utf-8")][:3]
    for mode in MODES:
        lines = (tmp_path / run_file_name(mode)).read_text(encoding="utf-8").splitlines()
        assert sorted({line.split()[0] for line in lines}) == sorted(first)
    assert {line.split()[0] for line in (tmp_path / "qrels.txt").read_text().splitlines()} == set(first)


def test_kept_collection_is_reused(dataset: Path, models: list[str], tmp_path: Path) -> None:
    from qwen3_rag.pipeline import QdrantStore

    flags = [str(dataset), *models, "--max-queries", "2", "--top-k", "10", "--chunk-tokens", "512"]
    flags += ["--qdrant-path", str(tmp_path / "q")]
    code, out = run([*flags, "--collection", "docs"])
    assert code == 0 and " 0 unchanged" in out and "Collection kept: docs" in out
    code, again = run([*flags, "--collection", "docs"])
    assert code == 0 and "(0 embedded," in again, again
    assert out.splitlines()[1:5] == again.splitlines()[1:5]  # the same table
    with QdrantStore("docs", path=tmp_path / "q") as store:
        sources = [r.source for r in store.sources.all()]
    corpus = (dataset / "corpus.jsonl").resolve().as_posix()
    assert len(sources) == 160 and f"{corpus}/doc0" in sources


def _copy(dataset: Path, target: Path) -> Path:
    (target / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (target / name).write_bytes((dataset / name).read_bytes())
    return target


def _append(path: Path, text: str) -> int:
    """Append ``text`` as a line; its line number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, text]) + "\n", encoding="utf-8")
    return len(lines) + 1


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["missing", "malformed", "unknown-doc", "unknown-query", "bad-score"])
def test_bad_input_is_one_line_naming_file_and_line(
    problem: str, dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _copy(dataset, tmp_path / "data")
    qrels = data / "qrels" / "test.tsv"
    first = (data / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")[0]
    if problem == "missing":
        (data / "corpus.jsonl").unlink()
        where = f"{data / 'corpus.jsonl'}: no such file"
    elif problem == "malformed":
        lines = (data / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        lines[2] = lines[2][:-3]
        (data / "queries.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        where = f"{data / 'queries.jsonl'}:3: not valid JSON"
    elif problem == "unknown-doc":
        line = _append(qrels, f"{first}\tno-such-doc\t1")
        where = f"{qrels}:{line}: document 'no-such-doc' is not in corpus.jsonl"
    elif problem == "unknown-query":
        line = _append(qrels, "nobody\tdoc3\t1")
        where = f"{qrels}:{line}: query 'nobody' is not in queries.jsonl"
    else:
        line = _append(qrels, f"{first}\tdoc3\thigh")
        where = f"{qrels}:{line}: score 'high' is not a whole number"
    # A model path that does not exist: the data is checked before any model loads.
    code, out = run([str(data), "--embedding-model", str(tmp_path / "none"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and out == ""
    assert err.startswith("qwen3-rag eval: error: ") and where in err and "\n" not in err, err


@pytest.mark.slow
def test_module_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "qwen3_rag.evaluation", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == f"qwen3-rag eval: error: {tmp_path / 'nothing'}: no such folder " + (
        "(expected a data set in the BEIR layout)."
    )


def test_qwen3_rag_eval_through_the_cli(dataset: Path, models: list[str]) -> None:
    from qwen3_rag._cli import main as cli_main

    out = io.StringIO()
    assert cli_main(["eval", str(dataset), *models, "--max-queries", "2", "--json"], stdout=out) == 0
    assert json.loads(out.getvalue())["queries"] == 2


def test_filter_narrows_every_search(dataset: Path, models: list[str], tmp_path: Path) -> None:
    corpus = (dataset / "corpus.jsonl").resolve().as_posix()
    flags = [str(dataset), *models, "--max-queries", "3", "--json", "--save-runs", str(tmp_path)]
    code, out = run([*flags, "--filter", f"source={corpus}/doc1,{corpus}/doc2"])
    assert code == 0, out
    for mode in MODES:
        lines = (tmp_path / run_file_name(mode)).read_text(encoding="utf-8").splitlines()
        assert lines and {line.split()[2] for line in lines} <= {"doc1", "doc2"}


def test_a_malformed_filter_is_refused_before_anything_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = tmp_path / "small"  # the smallest BEIR layout: the filter is refused before it is read
    (dataset / "qrels").mkdir(parents=True)
    (dataset / "corpus.jsonl").write_text('{"_id": "d", "text": "t"}\n', encoding="utf-8")
    (dataset / "queries.jsonl").write_text('{"_id": "q", "text": "t"}\n', encoding="utf-8")
    (dataset / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\td\t1\n", encoding="utf-8")
    code, out = run([str(dataset), "--embedding-model", str(tmp_path / "none"), "--filter", "year>=soon"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and out == "" and "a range wants a number or an ISO date" in err and "\n" not in err
