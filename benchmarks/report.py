"""docs/benchmarks.md: the hand-kept prose of ``docs/benchmarks.md.in`` with every
``{{name}}`` line replaced by what ``TABLES[name]`` renders from the suites' JSON files."""

from __future__ import annotations

import json
import math
import operator
import re
import string
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from .common import ROOT, RUN_FILE, SUITE_FILES
from .host import host_line

TEMPLATE = ROOT / "docs" / "benchmarks.md.in"
Data = dict[str, Any]
Target = tuple[str, str, bool | None]
Lines = Callable[[Data], Any]
DTYPE_SHORT = {"float32": "fp32", "bfloat16": "bf16"}
TASKS = ("embedding", "reranking")
CLI_TARGET_S = 1.5  # issue 24: cold `sources`, `remove` and `query --server URL`
PARSER_FORMATS = ("docx", "pptx", "xlsx", "html", "epub", "pdf")
TABLES: dict[str, Lines] = {}  # {{name}} in the template: the lines it stands for


# ----------------------------------------------------------------------------- formatting
class _CellFormatter(string.Formatter):
    """``str.format`` plus two specs: ``~`` (``~1``): no decimals from 100 up, else 2 (1), "-" for None or
    NaN; ``G...``: the value in giga."""

    def format_field(self, value: Any, spec: str) -> str:
        if spec.startswith("~"):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return "-"
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{spec[1:] or 2}f}"
        if value is None:
            raise TypeError("no value")
        return format(value / 1e9, spec[1:]) if spec.startswith("G") else format(value, spec)


_CELLS = _CellFormatter()


def grid(rows: Iterable[Data], spec: str, right: int = 0) -> list[str]:
    """A markdown table from ``"header=format | ..."`` (nothing without rows): each format filled from a
    row's fields, "-" where one is missing or None; ``right`` right-aligned columns after the first."""

    def cell(form: str, row: Data) -> str:
        try:
            return _CELLS.format(form, **row)
        except (KeyError, TypeError, ValueError):
            return "-"

    heads = [column.rpartition("=") for column in spec.split(" | ")]
    lines = ["| " + " | ".join(cell(form, row) for _, _, form in heads) + " |" for row in rows]
    align = "---|" + "---:|" * right + "---|" * (len(heads) - 1 - right)
    return [f"| {' | '.join(head for head, _, _ in heads)} |", f"|{align}", *lines] if lines else []


def renders(name: str, spec: str = "", right: int = 0) -> Callable[[Lines], Lines]:
    """Registers ``TABLES[name]``: the lines the function returns, or with a ``spec`` the grid of its rows."""

    def register(make: Lines) -> Lines:
        TABLES[name] = (lambda suites: grid(make(suites), spec, right)) if spec else make
        return make

    return register


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ----------------------------------------------------------------------------- loading
def load_suites(out: Path) -> Data:
    """Every suite's JSON found in ``out`` (``None`` for a suite that never ran there)."""
    paths = {name: out / file for name, file in [*SUITE_FILES.items(), ("run", RUN_FILE)]}
    return {n: json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None for n, p in paths.items()}


def main_sections(suites: Data) -> dict[str, Data]:
    return {s["key"]: s for s in (suites.get("main") or {}).get("sections", [])}


def hardware_record(suites: Data) -> Data:
    """The main suite's hardware section in the shape the efficiency tables read ({} where not measured)."""
    hw = main_sections(suites).get("hardware")
    if hw is None or not hw["available"]:
        return {}
    return {"shape": suites["main"]["shape"]["name"], "extra": hw["extra"], "rows": hw["rows"]}


def serving_run(data: Data, workload: str, contender: str) -> Data | None:
    runs = data.get("runs", [])
    return next((r for r in runs if r["workload"] == workload and r["contender"].startswith(contender)), None)


@renders("efficiency", "where={what} | dtype={dtype} | GFLOP/s={flops_per_s:G.0f} "
         "| matmul peak GFLOP/s={peak_flops:G.0f} | share={share_of_peak:.0%} | target >= 60%={met} "
         "| vs `nn.Linear`'s rate={versus}")  # fmt: skip
def efficiency_rows(suites: Data) -> list[Data]:
    """qwen3-rag's FLOP/s on the main suite's mixed-length corpus against its dtype's matmul peak."""
    hardware = hardware_record(suites)
    mixed = (
        r for r in hardware.get("rows", []) if r["contender"].startswith("qwen3-rag, mixed-length corpus")
    )
    rows = [{**r, "what": f"main suite, {hardware['shape']} shape"} for r in mixed]
    for r in rows:
        linear = hardware["extra"].get("matmul_rates", {}).get(r["dtype"], {}).get("linear")
        r["versus"] = f"{100 * r['flops_per_s'] / linear:.0f}%" if linear else "-"
        r["met"] = "met" if r["share_of_peak"] >= 0.6 else "missed"
    return rows


# ----------------------------------------------------------------------------- run records
def _took(data: Data) -> Data:
    start, end = data.get("load_average_start_end") or (None, None)
    return {
        "command": f"`{data.get('command', '?')}`",
        "started": data.get("started", "?"),
        "took": "-" if data.get("seconds") is None else f"{data['seconds'] / 60:.1f} min",
        "load": "-" if start is None else f"{start:.1f} / {end:.1f}",
    }


@renders("runs")
def runs_lines(suites: Data) -> list[str]:
    """The last run of every suite, the suites that failed in it, and the runs of some suites after it."""
    record = suites.get("run") or {"last_full": None, "later": []}
    lines = []
    for kind, run in [("The last full run", record["last_full"]), *[("Then", r) for r in record["later"]]]:
        if run is None:
            continue
        each = run["suites"].items()
        per_suite = ", ".join(f"{n} {v['seconds'] / 60:.1f}" for n, v in each)
        failed = ", ".join(f"{n} (exit {v['returncode']})" for n, v in each if v["returncode"])
        start, end = run["load_average_start"], run["load_average_end"]
        lines.append(
            f"- {kind}: `{run['command']}`, started {run['started']}, took {run['seconds'] / 60:.1f} min "
            f"({per_suite} min per suite; 1-minute load average {start:.1f} at the start, {end:.1f} at the "
            "end)" + (f"; **failed: {failed}**" if failed else "") + "."
        )
    return lines


@renders("provenance", "suite={name} | JSON={json} | command={command} | started={started} | took={took} "
         "| load average start / end={load}")  # fmt: skip
def provenance_rows(suites: Data) -> list[Data]:
    return [
        {"name": name, "json": f"[{file}]({file})", **_took(suites[name])}
        if suites.get(name)
        else {"name": name, "command": "not run into this folder"}
        for name, file in SUITE_FILES.items()
    ]


def run_line(name: str, suites: Data) -> list[str]:
    """``Run: command, started, took, load`` and the host line of one suite's JSON."""
    data = suites.get(name)
    if data is None:
        return [f"Not run into this folder: `python -m benchmarks.run --suites {name}`."]
    run = "Run: {command}, started {started}, took {took}, 1-minute load average start / end {load}."
    return [run.format(**_took(data)), "", host_line(data.get("host"), data.get("machine"))]


for _suite in SUITE_FILES:
    renders(f"run:{_suite}")(partial(run_line, _suite))


@renders("main-setup")
def main_setup(suites: Data) -> list[str]:
    main = suites.get("main")
    if not main:
        return []
    listed = {"Model shape": main["shape"], "Corpus": main["corpus"], "Machine": main["machine"],
              "Versions": main["versions"]}  # fmt: skip
    lines = [f"- {what}: " + ", ".join(f"{k} {v}" for k, v in data.items()) for what, data in listed.items()]
    return lines + [
        f"- {main['body_params'] / 1e6:.1f}M non-embedding parameters; fixed batch sizes: embedding "
        f"{main['embed_batch_size']}, reranking {main['rerank_batch_size']}; timings are the best of "
        f"{main['repeat']} run(s) after a warm-up."
    ]


# ----------------------------------------------------------------------------- targets
def target(
    label: str, value: float | None, goal: float, shown: str = "{:.2f}x", met: Any = operator.ge
) -> Target:
    """``label``, ``value`` as ``shown`` and whether ``met(value, goal)``; "not measured" without a value."""
    return (label, "not measured", None) if value is None else (label, shown.format(value), met(value, goal))


def main_targets(suites: Data) -> list[Target]:
    sections = {k: s for k, s in main_sections(suites).items() if s["available"]}

    def ratio(key: str, prefix: str) -> Any:
        return first(key, prefix).get("ratio")

    def first(key: str, prefix: str) -> Data:
        rows = sections.get(key, {}).get("rows", [])
        return next((r for r in rows if r["contender"].startswith(prefix)), {})

    out = [
        target("Embedding >= 1.3x sentence-transformers", ratio("embedding", "sentence-transformers"), 1.3),
        target("Embedding >= 2x official loop", ratio("embedding", "official"), 2.0),
    ]
    conc = sections.get("concurrency", {}).get("rows", [])
    if paths := [r for r in conc if r["contender"].endswith(("tasks", "threads"))]:
        label = "256 concurrent queries within 1.5x one ideal batch (worst path)"
        out.append(target(label, max(r["ratio"] or 0.0 for r in paths), 1.5, met=operator.le))
        if one := first("concurrency", "one at a time"):
            slow, best = (one["seconds"] / pick(r["seconds"] for r in paths) for pick in (max, min))
            label = "Concurrent >= 5x faster than one by one (slowest concurrent path)"
            out.append(target(label, slow, 5, f"{{:.1f}}x (best path {best:.1f}x)"))
    for key in [k for k in sections if k.startswith("rerank_")]:
        for who, goal in (("official", 1.5), ("sentence-transformers", 1.0)):
            label = f"Reranking {key.removeprefix('rerank_')} >= {goal}x {who}"
            out.append(target(label, ratio(key, who), goal))
    compared = [s for k, s in sections.items() if k == "embedding" or k.startswith("rerank_")]
    if diffs := [r["max_abs_diff"] for s in compared for r in s["rows"] if r["max_abs_diff"] is not None]:
        label = "Identical outputs (max abs diff <= 1e-5)"
        out.append(target(label, max(diffs), 1e-5, "{:.1e}", operator.le))
    if (shared := ratio("memory", "qwen3-rag")) is not None:
        out.append(target("Memory: three users of one model <= 1.1x one model", shared, 1.1, met=operator.le))
    if hw := first("hardware", ""):
        label = f">= 50% of matmul peak at batch >= 16 ({hw['contender']})"
        out.append(target(label, hw["share_of_peak"], 0.5, "{:.0%}"))
    return out


def cpu_dtypes_targets(data: Data) -> list[Target]:
    rows, shape, out = {(r["task"], r["variant"]): r for r in data["results"]}, data["shape"]["name"], []
    for task in TASKS:
        if (task, "bfloat16") in rows:
            label = f"CPU bf16 >= 2x fp32, {task} ({shape} shape, issue 13 §1)"
            out.append(target(label, rows[task, "bfloat16"]["speedup"], 2.0))
    for task in TASKS:  # auto's throughput / the faster of float32 and bfloat16 (same run)
        fastest = [rows[task, v]["seconds"] for v in ("float32", "bfloat16") if (task, v) in rows]
        if (task, "auto") in rows and fastest:
            label = f'CPU dtype="auto" >= 0.9x the faster of float32 and bfloat16, {task} ({shape} shape, '
            out.append(target(label + "issue 25)", min(fastest) / rows[task, "auto"]["seconds"], 0.9))
    for row in (data.get("memory") or {}).get("model", []):
        if "growth_share" in row and row["kernel"] != "bfloat16":
            label = (
                f"CPU memory flat (within 5%) over {row['shapes']} batch shapes, {row['kernel']} (issue 25)"
            )
            out.append(target(label, row["growth_share"], 0.05, "{:+.1%}", operator.le))
    return out


def serving_targets(data: Data) -> list[Target]:
    out: list[Target] = []
    dtype = data["settings"].get("dtype", "float32")
    where = f"{DTYPE_SHORT[dtype]}, {data['shape']['name']} shape, {data['settings']['concurrency']} clients"
    for w in ("embed", "rerank"):
        base, serve, vllm = (serving_run(data, w, c) for c in ("in-process", "qwen3-rag serve", "vLLM"))
        for goal, label, top, bottom in (
            (0.8, f"Server over loopback >= 0.8x in-process, {w} (issue 10)", serve, base),
            (1.0, f"qwen3-rag (in-process) >= 1.0x vLLM CPU over HTTP, {w}, {where}", base, vllm),
        ):
            if top and bottom:
                out.append(target(label, top["items_per_s"] / bottom["items_per_s"], goal))
    for name, row in (data.get("memory") or {}).items():
        if name.startswith("qwen3-rag serve"):
            label = "Server + workers <= 1.5x one process (RSS, issue 10)"
            out.append(target(label, row["x_one_process_rss"], 1.5, met=operator.le))
    return out


def efficiency_targets(suites: Data) -> list[Target]:
    return [
        target(f">= 60% of the measured matmul peak, mixed-length corpus, "
               f"{DTYPE_SHORT.get(r['dtype'], r['dtype'])}, {r['what']}", r["share_of_peak"], 0.6, "{:.0%}")
        for r in efficiency_rows(suites)
    ]  # fmt: skip


def ingest_targets(data: Data) -> list[Target]:
    label = "Ingest peak memory < 3 GB with the real tokenizer (issue 9; stated for 50 MB, measured at "
    label += f"{data['file_bytes'] / 2**20:.0f} MiB)"
    return [target(label, data["streaming"]["peak"]["hwm_mb"] / 1024, 3, "{:.2f} GB", operator.lt)]


STORE_TARGETS = [  # issue 19, for Qdrant Edge at 100k points: (label, limit, value's key, shown as)
    ("open the store <= {:g} s", 1.0, "open_s", "{:.2f} s"),
    ("hybrid (dense + sparse, RRF) top-50 p50 <= {:g} ms", 30.0, "hybrid_ms", "{:.1f} ms"),
    ("filtered dense top-50 p50 <= {:g} ms", 10.0, "filtered_ms", "{:.1f} ms"),
    ("RSS after open <= {:g} MB", 500.0, "rss_after_open_mb", "{:.0f} MB"),
    ("ingest >= {:g} points/s (store side)", 1500.0, "ingest_points_per_s", "{:,.0f} points/s"),
    ("last 1,000-point ingest window >= {:g}x the first", 0.7, "window_ratio", "{:.2f}x"),
    ("HNSW recall@50 vs exact >= {:g} (clustered vectors)", 0.98, "recall_at_50", "{:.3f}"),
]


def store_targets(data: Data) -> list[Target]:
    """Issue 19's targets against Qdrant Edge at 100k points, or at the largest size measured."""
    edge = [r for r in data["rows"] if r["engine"] == "edge" and "open_s" in r and r["points"] >= 10_000]
    at = next((r for r in edge if r["points"] == 100_000), max(edge, key=lambda r: r["points"], default=None))
    if at is None:
        return [("Qdrant Edge at 100k points (issue 19)", "not measured in this run", None)]
    first = at.get("first_window")
    values = {**at, "hybrid_ms": at["hybrid_ms"]["p50"], "filtered_ms": at["filtered_ms"]["p50"]}
    values["window_ratio"] = at["last_window"] / first if first else None
    where = "100k points" if at["points"] == 100_000 else f"{at['points'] // 1000}k points (100k not run)"
    out = []
    for label, limit, key, shown in STORE_TARGETS:
        met = operator.ge if ">=" in label else operator.le
        label, measured, ok = target(label.format(limit), values.get(key), limit, shown, met)
        out.append((f"Qdrant Edge at {where}: {label} (issue 19)", "-" if ok is None else measured, ok))
    return out


def cli_targets(data: Data) -> list[Target]:
    by = {r["command"]: r["median_s"] for r in data["rows"]}
    labels = {  # issue 24
        "qwen3-rag sources": "cold `qwen3-rag sources` < {} s",
        "qwen3-rag remove FILE": "cold `qwen3-rag remove FILE` < {} s",
        "qwen3-rag query --server URL (warm server)": "`query --server URL` < {} s against a warm server",
    }
    return [
        target(f"{label.format(CLI_TARGET_S)} (issue 24)", by[command], CLI_TARGET_S, "{:.2f} s", operator.lt)
        for command, label in labels.items()
        if command in by
    ]


@renders("targets", "target={label} | measured={value} | met={met}")
def targets_rows(suites: Data) -> list[Data]:
    """Every suite's targets: ``main_targets`` reads all the suites, each other ``*_targets`` its own JSON."""
    first = {"cpu-dtypes": cpu_dtypes_targets, "serving": serving_targets}
    then = {"ingest": ingest_targets, "store": store_targets, "cli": cli_targets}
    rows = main_targets(suites) if suites.get("main") else []
    rows += [t for name, targets in first.items() if suites.get(name) for t in targets(suites[name])]
    rows += efficiency_targets(suites)
    rows += [t for name, targets in then.items() if suites.get(name) for t in targets(suites[name])]
    verdict = {None: "-", True: "yes", False: "**no**"}
    return [{"label": label, "value": value, "met": verdict[met]} for label, value, met in rows]


# ----------------------------------------------------------------------------- main suite
MAIN_COLUMNS = {  # "{unit}": the section's
    "contenders": "contender={contender} | seconds={seconds:.2f} | {unit}={items_per_s:~} | tokens/s="
    "{tokens_per_s:~} | qwen3-rag speed-up={ratio:~}x | max abs diff vs qwen3-rag={max_abs_diff:.1e} "
    "| how={note}",
    "concurrency": "how={contender} | seconds={seconds:.2f} | queries/s={items_per_s:~} "
    "| time / one ideal batch={ratio:~}x | max abs diff vs batch={max_abs_diff:.1e} | note={note}",
    "memory": "case={contender} | model cost (peak - after imports)={seconds:,.0f} MB "
    "| peak RSS={peak_mb:,.0f} MB | x one model={ratio:~}",
    "hardware": "what={contender} | GFLOP/s={flops_per_s:G.1f} "
    "| peak of its dtype, GFLOP/s={peak_flops:G.0f} | share of matmul peak={share_of_peak:.0%}",
}


@renders("main")
def main_tables(suites: Data) -> list[str]:
    """Each main-suite section: its title, its table (the contenders' columns unless its key has its own)."""
    lines = []
    for section in main_sections(suites).values():
        lines += [f"### {section['title']}", ""]
        if section["available"]:
            spec = MAIN_COLUMNS.get(section["key"], MAIN_COLUMNS["contenders"])
            rows = [{**r, **{f"{k}_per_s": r[k] / r["seconds"] for k in ("items", "tokens") if k in r}}
                    for r in section["rows"]]  # fmt: skip
            lines += [*grid(rows, spec.replace("{unit}", section["unit"])), ""]
        lines += [*(f"- {note}" for note in section["notes"]), ""]
    return lines


# ----------------------------------------------------------------------------- other suites
ACCURACY = {  # by task: a variant's accuracy against float32
    "embedding": "min cosine {min_cosine:.5f}, mean {mean_cosine:.6f}",
    "reranking": "Spearman min {spearman_min:.3f} / mean {spearman_mean:.3f}, Kendall min {kendall_min:.3f} "
    "/ mean {kendall_mean:.3f}, top-1 {top1_agreement:.0%}, top-5 {top5_overlap:.0%}, max abs P(yes) diff "
    "{max_abs_diff_p_yes:.1e}",
}


@renders("cpu-dtypes", "task={task} | variant={variant} | seconds={seconds:.2f} | tokens/s={tokens_per_s:.0f}"
         " | vs float32={speedup:.2f}x | weights MiB={weight_mib:.0f} "
         "| accuracy vs float32={accuracy}")  # fmt: skip
def cpu_dtypes_rows(suites: Data) -> list[Data]:
    rows = (suites.get("cpu-dtypes") or {}).get("results", [])
    picked = [f"auto (picked {r['picked']})" if r["picked"] else r["variant"] for r in rows]
    return [
        {**r, "variant": v, "accuracy": ACCURACY[r["task"]].format(**r["accuracy"])}
        for r, v in zip(rows, picked, strict=True)
    ]


@renders("cpu-memory", "kernel={kernel} | RSS after load MiB={rss_loaded_mib:.0f} | warm-up growth MiB="
         "{warmup_growth_mib:.0f} | RSS after warm-up MiB={rss_after_warmup_mib:.0f} | growth over the "
         "shapes MiB={growth_mib:.0f} | growth={growth_share:+.1%} | trace every 50 shapes MiB={trace}",
         right=5)  # fmt: skip
def cpu_memory_rows(suites: Data) -> list[Data]:
    memory = (suites.get("cpu-dtypes") or {}).get("memory") or {}
    trace = [{**r, "trace": ", ".join(f"{v:+.0f}" for v in r["trace_mib"])} for r in memory.get("model", [])]
    return [r for r in trace if "growth_mib" in r]  # a failed child has none


@renders("matmul-forms", "shape={where} | dtype={dtype} | plain `a @ b`={matmul:G.0f} | `nn.Linear` (what "
         "transformers runs)={linear:G.0f} | oneDNN, packed weight={onednn_packed:G.0f}")  # fmt: skip
def matmul_forms_rows(suites: Data) -> list[Data]:
    hardware = hardware_record(suites)
    rates = hardware.get("extra", {}).get("matmul_rates", {})
    return [{**r, "where": f"{hardware['shape']} (main)", "dtype": d} for d, r in rates.items()]


def serving_rows(workload: str, suites: Data) -> list[Data]:
    runs = [r for r in (suites.get("serving") or {}).get("runs", []) if r["workload"] == workload]
    base = next((r["items_per_s"] for r in runs if r["contender"] == "in-process"), math.nan)
    return [{**r, "x": r["items_per_s"] / base} for r in runs]


SERVING_COLUMNS = (
    "contender={contender} | {unit}={items_per_s:.1f} | tokens/s={tokens_per_s:.0f} | p50 ms={p50_ms:.0f} "
    "| p95 ms={p95_ms:.0f} | p99 ms={p99_ms:.0f} | x in-process={x:.2f} | max abs diff={max_abs_diff:.1e}"
)
for _workload, _unit in (("embed", "texts/s"), ("rerank", "docs/s")):
    renders(f"serving-{_workload}", SERVING_COLUMNS.replace("{unit}", _unit), 7)(
        partial(serving_rows, _workload)
    )


@renders("serving-memory", "setup={name} | RSS MB={rss_mb:.0f} | x one process={x_one_process_rss:.2f} "
         "| PSS MB={pss_mb:.0f}", right=3)  # fmt: skip
def serving_memory_rows(suites: Data) -> list[Data]:
    return [{**r, "name": name} for name, r in ((suites.get("serving") or {}).get("memory") or {}).items()]


@renders("serving-notes")
def serving_notes(suites: Data) -> list[str]:
    data = suites.get("serving") or {}
    start, end = data.get("load_average_start_end", (None, None))
    lines = [f"- 1-minute load average at start / end: {start:.1f} / {end:.1f}"] if start is not None else []
    return lines + [f"- {note}" for note in data.get("notes", [])]


@renders("ingest", "measurement={label} | RSS after imports + model (MiB)={before[rss_mb]:,.0f} "
         "| peak RSS (MiB)={peak[hwm_mb]:,.0f} | peak - baseline (MiB)={growth:,.0f} "
         "| RSS at end (MiB)={peak[rss_mb]:,.0f} | ru_maxrss (MiB)={peak[maxrss_mb]:,.0f} "
         "| wall (s)={seconds:,.1f} | chunks={chunks:,} | chunks/s={rate:,.1f}")  # fmt: skip
def ingest_rows(suites: Data) -> list[Data]:
    data, rows = suites.get("ingest") or {}, []
    labels = {"streaming": "qwen3-rag ingest (streaming)", "old": "old way: one tokenizer call with offsets"}
    for key, label in labels.items():
        if row := data.get(key):
            rate = row["chunks"] / row["seconds"] if "chunks" in row else None
            growth = row["peak"]["hwm_mb"] - row["before"]["rss_mb"]
            rows.append({**row, "label": label, "growth": growth, "rate": rate})
    return rows


def store_table(data: Data) -> list[str]:
    rows = [{**r, "open": r.get("skipped") or r.get("error") or f"{r['open_s']:,.2f}"} for r in data["rows"]]
    spec = (
        "engine={engine} | points={points:,} | open s={open} | RSS after open MB={rss_after_open_mb:,.0f} "
        "| disk MB={disk_mb:,.0f} | ingest points/s (first / last window)={ingest_points_per_s:,.0f} "
        "({first_window:,.0f} / {last_window:,.0f}) | HNSW build s={index_s:,.0f} "
        "| dense p50/p95 ms={dense_ms[p50]:,.1f} / {dense_ms[p95]:,.1f} "
        "| hybrid p50/p95 ms={hybrid_ms[p50]:,.1f} / {hybrid_ms[p95]:,.1f} "
        "| filtered dense p50/p95 ms={filtered_ms[p50]:,.1f} / {filtered_ms[p95]:,.1f} "
        "| hybrid+filter p50/p95 ms={hybrid_filtered_ms[p50]:,.1f} / {hybrid_filtered_ms[p95]:,.1f} "
        "| recall@50={recall_at_50:.3f}"
    )
    return grid(rows, spec)


renders("store")(lambda suites: store_table(suites["store"]) if suites.get("store") else [])
renders("cli", "command=`{command}` | median s={median_s:.2f} | min s={min_s:.2f}")(
    lambda suites: (suites.get("cli") or {}).get("rows", [])
)


def _parser_cell(result: Data | None) -> str:
    if result is None or "error" in result:
        return "-" if result is None else f"error: {_short(result['error'], 100)}"
    speed = "timed out" if result["seconds_per_mb"] is None else f"{result['seconds_per_mb']:.2g} s/MB"
    table_kept = "whole" if result["table_whole"] else "split"
    lost = "" if result["marker"] else ", **text lost**"
    return f"{speed}, table {table_kept}, {result['headings']}/{result['headings_of']} headings{lost}"


@renders(
    "parsers",
    " | ".join(["parser={parser}", *(f"{f}={{{f}}}" for f in PARSER_FORMATS), "measured={started}"]),
)
def parsers_rows(suites: Data) -> list[Data]:
    rows = (suites.get("parsers") or {}).get("parsers", [])
    return [{**r, **{fmt: _parser_cell(r["formats"].get(fmt)) for fmt in PARSER_FORMATS}} for r in rows]


def render(template: str, suites: Data) -> str:
    lines: list[str] = []
    for line in template.splitlines():
        found = re.fullmatch(r"\{\{([\w:-]+)\}\}", line.strip())
        lines += TABLES[found.group(1)](suites) if found else [line]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))  # a table left empty leaves no gap
    return text.strip("\n") + "\n"


def write(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    md = out / "benchmarks.md"
    md.write_text(render(TEMPLATE.read_text(encoding="utf-8"), load_suites(out)), encoding="utf-8")
    return md
