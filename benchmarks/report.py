"""docs/benchmarks.md: the hand-kept prose of ``docs/benchmarks.md.in`` with every
``{{name}}`` line replaced by what ``TABLES[name]`` renders from the suites' JSON files."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import ROOT, RUN_FILE, SUITE_FILES
from .host import host_line

TEMPLATE = ROOT / "docs" / "benchmarks.md.in"
Data = dict[str, Any]
Target = tuple[str, str, bool | None]
DTYPE_SHORT = {"float32": "fp32", "bfloat16": "bf16"}
PEER_NAMES = {
    "qwen3-rag": "qwen3-rag",
    "qwen3-rag-1t": "qwen3-rag, 1 thread",
    "vllm": "vLLM CPU, offline API",
    "infinity": "Infinity",
}
GLANCE_NAMES = {**PEER_NAMES, "vllm": "vLLM offline"}
TASKS = ("embedding", "reranking")
CLI_TARGET_S = 1.5  # issue 24: cold `sources`, `remove` and `query --server URL`
PARSER_FORMATS = ("docx", "pptx", "xlsx", "html", "epub", "pdf")


# ----------------------------------------------------------------------------- formatting
def num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def diff(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def table(header: str, align: str, rows: list[str]) -> list[str]:
    """A markdown table: ``header`` without its outer pipes, ``align`` without its first one."""
    return [f"| {header} |", f"|{align}", *rows]


def cells(*values: Any) -> str:
    return "| " + " | ".join(str(v) for v in values) + " |"


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


def hardware_record(suites: Data) -> Data | None:
    """The main suite's hardware section in the shape the efficiency tables read."""
    hw = main_sections(suites).get("hardware")
    if hw is None or not hw["available"]:
        return None
    return {"shape": suites["main"]["shape"]["name"], "extra": hw["extra"], "rows": hw["rows"]}


def peer_runs(data: Data) -> dict[tuple[str, str, str], Data]:
    return {(r["engine"], r["task"], r["dtype"]): r for r in data.get("runs", [])}


def peer_ratio(data: Data, engine: str, task: str, dtype: str, base: str = "qwen3-rag") -> float | None:
    """``base`` throughput / ``engine`` throughput at the same dtype (> 1: ``base`` faster)."""
    runs = peer_runs(data)
    mine, theirs = runs.get((base, task, dtype)), runs.get((engine, task, dtype))
    if not mine or not theirs or not mine.get("seconds") or not theirs.get("seconds"):
        return None
    return float(theirs["seconds"]) / float(mine["seconds"])


def serving_run(data: Data, workload: str, contender: str) -> Data | None:
    return next(
        (
            r
            for r in data.get("runs", [])
            if r["workload"] == workload and r["contender"].startswith(contender)
        ),
        None,
    )


def efficiency_rows(suites: Data) -> list[tuple[str, str, float, float, float]]:
    """``(what, dtype, FLOP/s, peak FLOP/s, share)`` for qwen3-rag on the mixed-length corpora."""
    rows: list[tuple[str, str, float, float, float]] = []
    hardware, peers = hardware_record(suites), suites.get("peers")
    for r in (hardware or {}).get("rows", []):
        if r["contender"].startswith("qwen3-rag, mixed-length corpus"):
            what = f"main suite, {hardware['shape']} shape"  # type: ignore[index]
            rows.append((what, r["dtype"], r["flops_per_s"], r["peak_flops"], r["share_of_peak"]))
    for r in (peers or {}).get("runs", []) if (peers or {}).get("corpus_flops") else []:
        if r["engine"] == "qwen3-rag" and r["task"] == "embedding" and r.get("seconds"):
            peak, rate = peers["peaks"][r["dtype"]], peers["corpus_flops"] / r["seconds"]  # type: ignore[index]
            rows.append((f"peers suite, {peers['shape']['name']} shape", r["dtype"], rate, peak, rate / peak))  # type: ignore[index]
    return rows


# ----------------------------------------------------------------------------- run records
def _took(data: Data) -> tuple[str, str, str, str]:
    """A suite's command, start, duration and 1-minute load average at start / end, as shown."""
    start, end = data.get("load_average_start_end") or (None, None)
    took = "-" if data.get("seconds") is None else f"{data['seconds'] / 60:.1f} min"
    load = "-" if start is None else f"{start:.1f} / {end:.1f}"
    return f"`{data.get('command', '?')}`", data.get("started", "?"), took, load


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


def provenance_table(suites: Data) -> list[str]:
    missing = ("-", "not run into this folder", "-", "-", "-")
    rows = [
        cells(name, f"[{file}]({file})", *_took(suites[name])) if suites.get(name) else cells(name, *missing)
        for name, file in SUITE_FILES.items()
    ]
    return table("suite | JSON | command | started | took | load average start / end", "---|" * 6, rows)


def run_line(name: str) -> Callable[[Data], list[str]]:
    """``Run: command, started, took, load`` and the host line of one suite's JSON."""

    def render(suites: Data) -> list[str]:
        data = suites.get(name)
        if data is None:
            return [f"Not run into this folder: `python -m benchmarks.run --suites {name}`."]
        command, started, took, load = _took(data)
        host = host_line(data.get("host"), data.get("machine"))
        run = f"Run: {command}, started {started}, took {took}, 1-minute load average start / end {load}."
        return [run, "", host]

    return render


def main_setup(suites: Data) -> list[str]:
    main = suites.get("main")
    if not main:
        return []
    shape, c = main["shape"], main["corpus"]
    return [
        f"- Model shape `{shape['name']}`: {shape['layers']} layers, hidden {shape['hidden']}, heads "
        f"{shape['heads']}/{shape['kv_heads']}, head_dim {shape['head_dim']}, ffn {shape['ffn']}, vocab "
        f"{shape['vocab']}, {main['body_params'] / 1e6:.1f}M non-embedding parameters.",
        f"- Corpus: {c['source']}: {c['documents']} passages, {c['tokens']} tokens (min {c['min']}, median "
        f"{c['p50']}, p90 {c['p90']}, max {c['max']}).",
        f"- Fixed batch sizes: embedding {main['embed_batch_size']}, reranking {main['rerank_batch_size']}; "
        f"timings are the best of {main['repeat']} run(s) after a warm-up.",
        "- Machine: " + ", ".join(f"{k} {v}" for k, v in main["machine"].items()),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in main["versions"].items()),
    ]


# ----------------------------------------------------------------------------- targets
def main_targets(suites: Data) -> list[Target]:
    sections = {k: s for k, s in main_sections(suites).items() if s["available"]}

    def first(key: str, prefix: str) -> Data:
        rows = sections.get(key, {}).get("rows", [])
        return next((r for r in rows if r["contender"].startswith(prefix)), {})

    def ratio(label: str, key: str, prefix: str, goal: float) -> Target:
        value = first(key, prefix).get("ratio")
        if value is None:
            return label, "not measured", None
        return label, f"{value:.2f}x", value >= goal

    out = [
        ratio("Embedding >= 1.3x sentence-transformers", "embedding", "sentence-transformers", 1.3),
        ratio("Embedding >= 2x official loop", "embedding", "official", 2.0),
    ]
    conc = sections.get("concurrency", {}).get("rows", [])
    if paths := [r for r in conc if r["contender"].endswith(("tasks", "threads"))]:
        worst = max(r["ratio"] or 0.0 for r in paths)
        label = "256 concurrent queries within 1.5x one ideal batch (worst path)"
        out.append((label, f"{worst:.2f}x", worst <= 1.5))
        if one := first("concurrency", "one at a time"):
            slow, best = (one["seconds"] / pick(r["seconds"] for r in paths) for pick in (max, min))
            label = "Concurrent >= 5x faster than one by one (slowest concurrent path)"
            out.append((label, f"{slow:.1f}x (best path {best:.1f}x)", slow >= 5))
    for key in [k for k in sections if k.startswith("rerank_")]:
        tag = key.removeprefix("rerank_")
        out.append(ratio(f"Reranking {tag} >= 1.5x official", key, "official", 1.5))
        out.append(ratio(f"Reranking {tag} >= 1.0x sentence-transformers", key, "sentence-transformers", 1.0))
    compared = [s for k, s in sections.items() if k == "embedding" or k.startswith("rerank_")]
    diffs = [r["max_abs_diff"] for s in compared for r in s["rows"] if r["max_abs_diff"] is not None]
    if diffs:
        out.append(("Identical outputs (max abs diff <= 1e-5)", f"{max(diffs):.1e}", max(diffs) <= 1e-5))
    if (shared := first("memory", "qwen3-rag").get("ratio")) is not None:
        out.append(("Memory: three users of one model <= 1.1x one model", f"{shared:.2f}x", shared <= 1.1))
    if hw := first("hardware", ""):
        label = f">= 50% of matmul peak at batch >= 16 ({hw['contender']})"
        out.append((label, f"{100 * hw['share_of_peak']:.0f}%", hw["share_of_peak"] >= 0.5))
    return out


def auto_ratio(rows: dict[tuple[str, str], Data], task: str) -> float | None:
    """auto's throughput / the faster of float32 and bfloat16 (same run)."""
    auto = rows.get((task, "auto"))
    fastest = [rows[(task, v)]["seconds"] for v in ("float32", "bfloat16") if (task, v) in rows]
    return None if auto is None or not fastest else float(min(fastest) / auto["seconds"])


def cpu_dtypes_targets(data: Data) -> list[Target]:
    rows = {(r["task"], r["variant"]): r for r in data.get("results", [])}
    shape = data.get("shape", {}).get("name", "?")
    out: list[Target] = []
    for task in TASKS:
        row = rows.get((task, "bfloat16"))
        if row is not None and row.get("speedup") is not None:
            label = f"CPU bf16 >= 2x fp32, {task} ({shape} shape, issue 13 §1)"
            out.append((label, f"{row['speedup']:.2f}x", row["speedup"] >= 2.0))
    for task in TASKS:
        ratio = auto_ratio(rows, task)
        if ratio is not None:
            label = (
                f'CPU dtype="auto" >= 0.9x the faster of float32 and bfloat16, {task} '
                f"({shape} shape, issue 25)"
            )
            out.append((label, f"{ratio:.2f}x", ratio >= 0.9))
    for row in (data.get("memory") or {}).get("model", []):
        if "growth_share" in row and row["kernel"] in ("float32", "float32-onednn"):
            label = (
                f"CPU memory flat (within 5%) over {row['shapes']} batch shapes, {row['kernel']} (issue 25)"
            )
            out.append((label, f"{row['growth_share']:+.1%}", row["growth_share"] <= 0.05))
    return out


def peers_targets(data: Data) -> list[Target]:
    out: list[Target] = []
    for task in TASKS:
        for dtype in data.get("settings", {}).get("dtypes", []):
            if ("vllm", task, dtype) in peer_runs(data):
                ratio = peer_ratio(data, "vllm", task, dtype)
                label = (
                    f"qwen3-rag >= 1.0x vLLM CPU (offline API), {task}, {DTYPE_SHORT.get(dtype, dtype)}, "
                    f"{data.get('shape', {}).get('name', '?')} shape"
                )
                measured = "not measured" if ratio is None else f"{ratio:.2f}x"
                out.append((label, measured, None if ratio is None else ratio >= 1.0))
    return out


def serving_targets(data: Data) -> list[Target]:
    out: list[Target] = []
    for workload in ("embed", "rerank"):
        base = serving_run(data, workload, "in-process")
        serve = serving_run(data, workload, "qwen3-rag serve (loopback)")
        vllm = serving_run(data, workload, "vLLM")
        if base and serve:
            ratio = serve["items_per_s"] / base["items_per_s"]
            out.append(
                (
                    f"Server over loopback >= 0.8x in-process, {workload} (issue 10)",
                    f"{ratio:.2f}x",
                    ratio >= 0.8,
                )
            )
        if base and vllm:
            ratio = base["items_per_s"] / vllm["items_per_s"]
            label = (
                f"qwen3-rag (in-process) >= 1.0x vLLM CPU over HTTP, {workload}, fp32, "
                f"{data.get('shape', {}).get('name', '?')} shape, {data['settings']['concurrency']} clients"
            )
            out.append((label, f"{ratio:.2f}x", ratio >= 1.0))
    served = next((v for k, v in (data.get("memory") or {}).items() if k.startswith("qwen3-rag serve")), None)
    if served is not None:
        value = served["x_one_process_rss"]
        out.append(("Server + workers <= 1.5x one process (RSS, issue 10)", f"{value:.2f}x", value <= 1.5))
    return out


def efficiency_targets(suites: Data) -> list[Target]:
    return [
        (f">= 60% of the measured matmul peak, mixed-length corpus, {DTYPE_SHORT.get(d, d)}, {what}",
         f"{100 * share:.0f}%", share >= 0.6)
        for what, d, _, _, share in efficiency_rows(suites)
    ]  # fmt: skip


def ingest_targets(data: Data) -> list[Target]:
    streaming = data.get("streaming")
    if not streaming:
        return []
    peak = streaming["peak"].get("hwm_mb") or streaming["peak"]["maxrss_mb"]
    mb = data.get("file_bytes", 0) / 2**20
    label = (
        "Ingest peak memory < 3 GB with the real tokenizer "
        f"(issue 9; stated for 50 MB, measured at {mb:.0f} MiB)"
    )
    return [(label, f"{peak / 1024:.2f} GB", peak < data.get("target_peak_mb", 3072))]


STORE_TARGETS = {
    "open_s": ("open the store <= {limit:g} s", "{value:.2f} s"),
    "hybrid_p50_ms": ("hybrid (dense + sparse, RRF) top-50 p50 <= {limit:g} ms", "{value:.1f} ms"),
    "filtered_p50_ms": ("filtered dense top-50 p50 <= {limit:g} ms", "{value:.1f} ms"),
    "rss_after_open_mb": ("RSS after open <= {limit:g} MB", "{value:.0f} MB"),
    "ingest_points_per_s": ("ingest >= {limit:g} points/s (store side)", "{value:,.0f} points/s"),
    "last_window_ratio": ("last 1,000-point ingest window >= {limit:g}x the first", "{value:.2f}x"),
    "recall_at_50": ("HNSW recall@50 vs exact >= {limit:g} (clustered vectors)", "{value:.3f}"),
}


def store_targets(data: Data) -> list[Target]:
    rows: list[Target] = []
    for t in data.get("targets", []):
        label, shown = STORE_TARGETS[t["target"]]
        measured = "-" if t["value"] is None else shown.format(value=t["value"])
        points = t.get("points", 100_000)
        where = "100k points" if points == 100_000 else f"{points // 1000}k points (100k not run)"
        rows.append(
            (f"Qdrant Edge at {where}: {label.format(limit=t['limit'])} (issue 19)", measured, t["met"])
        )
    return rows or [("Qdrant Edge at 100k points (issue 19)", "not measured in this run", None)]


def cli_targets(data: Data) -> list[Target]:
    by = {r["command"]: r["median_s"] for r in data.get("rows", [])}
    limit = CLI_TARGET_S
    out: list[Target] = []
    for command in ("qwen3-rag sources", "qwen3-rag remove FILE"):
        if command in by:
            out.append(
                (f"cold `{command}` < {limit} s (issue 24)", f"{by[command]:.2f} s", by[command] < limit)
            )
    served = by.get("qwen3-rag query --server URL (warm server)")
    if served is not None:
        label = f"`query --server URL` < {limit} s against a warm server (issue 24)"
        out.append((label, f"{served:.2f} s", served < limit))
    return out


def targets_table(suites: Data) -> list[str]:
    """Every suite's targets: ``main_targets`` reads all the suites, each other ``*_targets`` its own JSON."""
    first = {"cpu-dtypes": cpu_dtypes_targets, "peers": peers_targets, "serving": serving_targets}
    then = {"ingest": ingest_targets, "store": store_targets, "cli": cli_targets}
    rows = main_targets(suites) if suites.get("main") else []
    rows += [t for name, targets in first.items() if suites.get(name) for t in targets(suites[name])]
    rows += efficiency_targets(suites)
    rows += [t for name, targets in then.items() if suites.get(name) for t in targets(suites[name])]
    verdict = {None: "-", True: "yes", False: "**no**"}
    return table("target | measured | met", "---|" * 3, [cells(*row[:2], verdict[row[2]]) for row in rows])


# ----------------------------------------------------------------------------- main suite
Column = tuple[str, Callable[[Data], Any]]


def columns(rows: list[Data], spec: list[Column]) -> list[str]:
    """A table with one ``(header, value of a row)`` pair per column."""
    header = " | ".join(name for name, _ in spec)
    return table(header, "---|" * len(spec), [cells(*(value(r) for _, value in spec)) for r in rows])


def per_s(key: str) -> Callable[[Data], str]:
    return lambda r: num(r[key] / r["seconds"])


def _key(key: str, spec: str = "") -> Callable[[Data], str]:
    return lambda r: format(r[key], spec)


def _times(key: str) -> Callable[[Data], str]:
    return lambda r: f"{num(r[key])}x"


def _gap(r: Data) -> str:
    return diff(r["max_abs_diff"])


SECONDS = ("seconds", _key("seconds", ".2f"))
MAIN_COLUMNS: dict[str, list[Column]] = {
    "contenders": [("contender", _key("contender")), SECONDS, ("{unit}", per_s("items")),
                   ("tokens/s", per_s("tokens")), ("qwen3-rag speed-up", _times("ratio")),
                   ("max abs diff vs qwen3-rag", _gap), ("how", _key("note"))],
    "concurrency": [("how", _key("contender")), SECONDS, ("queries/s", per_s("items")),
                    ("time / one ideal batch", _times("ratio")), ("max abs diff vs batch", _gap),
                    ("note", _key("note"))],
    "memory": [("case", _key("contender")),
               ("model cost (peak - after imports)", lambda r: f"{r['seconds']:,.0f} MB"),
               ("peak RSS", lambda r: f"{r['peak_mb']:,.0f} MB"), ("x one model", lambda r: num(r["ratio"]))],
    "hardware": [("what", _key("contender")), ("GFLOP/s", lambda r: f"{r['flops_per_s'] / 1e9:.1f}"),
                 ("peak of its dtype, GFLOP/s", lambda r: f"{r['peak_flops'] / 1e9:.0f}"),
                 ("share of matmul peak", lambda r: f"{100 * r['share_of_peak']:.0f}%")],
}  # fmt: skip


def section_lines(section: Data) -> list[str]:
    """A main-suite section: its title, its table (the contenders' columns unless its key has its own)."""
    lines = [f"### {section['title']}", ""]
    if section["available"]:
        spec = MAIN_COLUMNS.get(section["key"], MAIN_COLUMNS["contenders"])
        spec = [(header.format(unit=section["unit"]), value) for header, value in spec]
        lines += [*columns(section["rows"], spec), ""]
    return lines + [f"- {note}" for note in section["notes"]]


def main_tables(suites: Data) -> list[str]:
    return [line for section in main_sections(suites).values() for line in [*section_lines(section), ""]]


def glance_table(suites: Data) -> list[str]:
    """Issue 13 at a glance: qwen3-rag vs the peers at equal dtype, tokens/s and ratios."""
    peers = suites.get("peers")
    if not peers:
        return []
    runs, dtypes = peer_runs(peers), peers.get("settings", {}).get("dtypes", [])
    rows = []
    for task in TASKS:
        for engine, name in GLANCE_NAMES.items():
            values = [runs.get((engine, task, d)) or {} for d in dtypes]
            shown = [f"{r['tokens_per_s']:,.0f}" if r.get("tokens_per_s") else "-" for r in values]
            if any(c != "-" for c in shown) or engine == "qwen3-rag":
                rows.append(cells(f"{task}: {name}", *shown))
        for engine, base, who, bold in (("vllm", "qwen3-rag", "qwen3-rag", "**"),
                                        ("vllm", "qwen3-rag-1t", "qwen3-rag 1 thread", ""),
                                        ("infinity", "qwen3-rag", "qwen3-rag", "**")):  # fmt: skip
            ratios = [peer_ratio(peers, engine, task, d, base=base) for d in dtypes]
            if any(r is not None for r in ratios):
                shown = ["-" if r is None else f"{bold}{r:.2f}x{bold}" for r in ratios]
                rows.append(cells(f"{task}: {who} / {GLANCE_NAMES[engine]}", *shown))
    header = "task | " + " | ".join(DTYPE_SHORT.get(d, d) for d in dtypes)
    return table(header, "---|" * (len(dtypes) + 1), rows)


# ----------------------------------------------------------------------------- other suites
def cpu_dtypes_table(suites: Data) -> list[str]:
    rows = []
    for r in (suites.get("cpu-dtypes") or {}).get("results", []):
        a = r.get("accuracy", {})
        if r["task"] == "embedding":
            accuracy = f"min cosine {a['min_cosine']:.5f}, mean {a['mean_cosine']:.6f}"
        else:
            accuracy = (
                f"Spearman min {a['spearman_min']:.3f} / mean {a['spearman_mean']:.3f}, "
                f"Kendall min {a['kendall_min']:.3f} / mean {a['kendall_mean']:.3f}, "
                f"top-1 {a['top1_agreement']:.0%}, top-5 {a['top5_overlap']:.0%}, "
                f"max abs P(yes) diff {a['max_abs_diff_p_yes']:.1e}"
            )
        speedup = "-" if r.get("speedup") is None else f"{r['speedup']:.2f}x"
        variant = f"auto (picked {r['picked']})" if r.get("picked") else r["variant"]
        rows.append(
            cells(
                r["task"],
                variant,
                f"{r['seconds']:.2f}",
                f"{r['tokens_per_s']:.0f}",
                speedup,
                f"{r['weight_mib']:.0f}",
                accuracy,
            )
        )
    header = "task | variant | seconds | tokens/s | vs float32 | weights MiB | accuracy vs float32"
    return table(header, "---|" * 7, rows) if rows else []


def cpu_memory_table(suites: Data) -> list[str]:
    memory = (suites.get("cpu-dtypes") or {}).get("memory") or {}
    rows = [
        cells(
            r["kernel"],
            f"{r['rss_loaded_mib']:.0f}",
            f"{r['warmup_growth_mib']:.0f}",
            f"{r['rss_after_warmup_mib']:.0f}",
            f"{r['growth_mib']:.0f}",
            f"{r['growth_share']:+.1%}",
            ", ".join(f"{v:+.0f}" for v in r.get("trace_mib", [])),
        )
        for r in memory.get("model", [])
        if "growth_mib" in r
    ]
    header = (
        "kernel | RSS after load MiB | warm-up growth MiB | RSS after warm-up MiB | "
        "growth over the shapes MiB "
        "| growth | trace every 50 shapes MiB"
    )
    return table(header, "---|" + "---:|" * 5 + "---|", rows) if rows else []


def cpu_matmul_memory_table(suites: Data) -> list[str]:
    memory = (suites.get("cpu-dtypes") or {}).get("memory") or {}
    rows = [
        cells(r["form"], f"{r['growth_mib']:+.0f}", f"{r['growth_after_trim_mib']:+.0f}")
        for r in memory.get("matmul", [])
        if "growth_mib" in r
    ]
    return table("form | RSS growth MiB | after malloc_trim MiB", "---|---:|---:|", rows) if rows else []


def cpu_profile_table(suites: Data) -> list[str]:
    profile = (suites.get("cpu-dtypes") or {}).get("profile") or {}
    rows = [
        cells(shape, dtype, f"`{op['op']}`", f"{100 * op['share']:.0f}%", f"{op['self_ms']:.0f}", op["calls"])
        for shape, by_dtype in profile.items()
        for dtype, ops in by_dtype.items()
        for op in ops[:4]
    ]
    return table("shape | dtype | operator | share | self ms | calls", "---|" * 6, rows) if rows else []


def peers_table(task: str, unit: str) -> Callable[[Data], list[str]]:
    def render(suites: Data) -> list[str]:
        data = suites.get("peers")
        if not data:
            return []
        runs, rows = peer_runs(data), []
        for dtype in data.get("settings", {}).get("dtypes", []):
            for engine, name in PEER_NAMES.items():
                r = runs.get((engine, task, dtype))
                if r is None:
                    continue
                if not r.get("seconds"):
                    rows.append(
                        cells(name, dtype, *["-"] * 8, f"not run: {_short(r.get('error') or 'not run')}")
                    )
                    continue
                share, fp32 = r.get("share_of_peak"), diff(r.get("max_abs_diff_fp32"))
                if r.get("min_cosine_fp32") is not None and dtype != "float32":
                    fp32 += f" (min cosine {r['min_cosine_fp32']:.5f})"
                rows.append(
                    cells(
                        name,
                        dtype,
                        f"{r['seconds']:.2f}",
                        num(r["items_per_s"]),
                        num(r["tokens_per_s"]),
                        f"{num(peer_ratio(data, engine, task, dtype))}x",
                        "-" if share is None else f"{100 * share:.0f}%",
                        diff(r.get("max_abs_diff")),
                        fp32,
                        num(r.get("load_s"), 1),
                        r.get("how", ""),
                    )
                )
        header = (
            f"engine | dtype | seconds | {unit} | tokens/s | x qwen3-rag | share of matmul peak "
            "| max abs diff vs qwen3-rag (same dtype) | vs qwen3-rag fp32 | load s | how"
        )
        return table(header, "---|" * 11, rows)

    return render


def efficiency_table(suites: Data) -> list[str]:
    sources = {"main": (hardware_record(suites) or {}).get("extra", {}), "peers": suites.get("peers") or {}}
    rows = []
    for what, dtype, rate, peak, share in efficiency_rows(suites):
        linear = sources[what.split()[0]].get("matmul_rates", {}).get(dtype, {}).get("linear")
        versus = f"{100 * rate / linear:.0f}%" if linear else "-"
        met = "met" if share >= 0.6 else "missed"
        shown = (f"{rate / 1e9:.0f}", f"{peak / 1e9:.0f}", f"{100 * share:.0f}%")
        rows.append(cells(what, dtype, *shown, met, versus))
    header = "where | dtype | GFLOP/s | matmul peak GFLOP/s | share | target >= 60% | vs `nn.Linear`'s rate"
    return table(header, "---|" * 7, rows) if rows else []


def matmul_forms_table(suites: Data) -> list[str]:
    hardware, peers = hardware_record(suites), suites.get("peers")
    sources = []
    if hardware is not None and hardware["extra"].get("matmul_rates"):
        sources.append((f"{hardware['shape']} (main)", hardware["extra"]["matmul_rates"]))
    if peers is not None and peers.get("matmul_rates"):
        sources.append((f"{peers['shape']['name']} (peers)", peers["matmul_rates"]))
    rows = [
        cells(
            where,
            dtype,
            f"{r['matmul'] / 1e9:.0f}",
            f"{r['linear'] / 1e9:.0f}",
            "-" if r.get("onednn_packed") is None else f"{r['onednn_packed'] / 1e9:.0f}",
        )
        for where, rates in sources
        for dtype, r in rates.items()
    ]
    header = "shape | dtype | plain `a @ b` | `nn.Linear` (what transformers runs) | oneDNN, packed weight"
    return table(header, "---|" * 5, rows) if rows else []


def serving_table(workload: str, unit: str) -> Callable[[Data], list[str]]:
    def render(suites: Data) -> list[str]:
        runs = [r for r in (suites.get("serving") or {}).get("runs", []) if r["workload"] == workload]
        base = next((r for r in runs if r["contender"] == "in-process"), None)
        rows = [
            cells(
                r["contender"],
                f"{r['items_per_s']:.1f}",
                f"{r['tokens_per_s']:.0f}",
                f"{r['p50_ms']:.0f}",
                f"{r['p95_ms']:.0f}",
                f"{r['p99_ms']:.0f}",
                f"{r['items_per_s'] / base['items_per_s'] if base else float('nan'):.2f}",
                diff(r["max_abs_diff"]),
            )
            for r in runs
        ]
        header = f"contender | {unit} | tokens/s | p50 ms | p95 ms | p99 ms | x in-process | max abs diff"
        return table(header, "---|" + "---:|" * 7, rows) if rows else []

    return render


def serving_memory_table(suites: Data) -> list[str]:
    memory = (suites.get("serving") or {}).get("memory") or {}
    rows = [
        cells(name, f"{r['rss_mb']:.0f}", f"{r['x_one_process_rss']:.2f}", f"{r['pss_mb']:.0f}")
        for name, r in memory.items()
    ]
    return table("setup | RSS MB | x one process | PSS MB", "---|" + "---:|" * 3, rows) if rows else []


def serving_notes(suites: Data) -> list[str]:
    data = suites.get("serving") or {}
    start, end = data.get("load_average_start_end", (None, None))
    lines = [f"- 1-minute load average at start / end: {start:.1f} / {end:.1f}"] if start is not None else []
    return lines + [f"- {note}" for note in data.get("notes", [])]


def ingest_table(suites: Data) -> list[str]:
    data, rows = suites.get("ingest") or {}, []
    labels = {"streaming": "qwen3-rag ingest (streaming)", "old": "old way: one tokenizer call with offsets"}
    for key, label in labels.items():
        result = data.get(key)
        if result is None:
            continue
        base = result["before"]["rss_mb"] or result["before"]["maxrss_mb"]
        peak = result["peak"]["hwm_mb"] or result["peak"]["maxrss_mb"]
        chunks, seconds = result.get("chunks"), result["seconds"]
        rate = chunks / seconds if chunks and seconds > 0 else None
        rows.append(
            cells(
                label,
                f"{base:,.0f}",
                f"{peak:,.0f}",
                f"{peak - base:,.0f}",
                f"{result['peak']['rss_mb']:,.0f}",
                f"{result['peak']['maxrss_mb']:,.0f}",
                f"{seconds:,.1f}",
                "-" if chunks is None else f"{chunks:,}",
                f"{rate:,.1f}" if rate else "-",
            )
        )
    header = (
        "measurement | RSS after imports + model (MiB) | peak RSS (MiB) | peak - baseline (MiB) "
        "| RSS at end (MiB) | ru_maxrss (MiB) | wall (s) | chunks | chunks/s"
    )
    return table(header, "---|" + "---:|" * 8, rows) if rows else []


def store_table(data: Data) -> list[str]:
    def n(v: Any, digits: int = 1) -> str:
        return "-" if v is None else f"{v:,.{digits}f}"

    def ms(row: Data, key: str) -> str:
        v = row.get(key)
        return "-" if not v else f"{v['p50']:,.1f} / {v['p95']:,.1f}"

    rows = []
    for r in data["rows"]:
        if "skipped" in r or "error" in r:
            rows.append(
                f"| {r['engine']} | {r['points']:,} | {r.get('skipped') or r.get('error')} |" + " |" * 9
            )
            continue
        rate = r.get("ingest_points_per_s")
        ingest = (
            f"{n(rate, 0)} ({n(r.get('first_window'), 0)} / {n(r.get('last_window'), 0)})" if rate else "-"
        )
        rows.append(
            cells(
                r["engine"],
                f"{r['points']:,}",
                n(r["open_s"], 2),
                n(r["rss_after_open_mb"], 0),
                n(r["disk_mb"], 0),
                ingest,
                n(r.get("index_s"), 0),
                ms(r, "dense_ms"),
                ms(r, "hybrid_ms"),
                ms(r, "filtered_ms"),
                ms(r, "hybrid_filtered_ms"),
                n(r.get("recall_at_50"), 3),
            )
        )
    header = (
        "engine | points | open s | RSS after open MB | disk MB | ingest points/s (first / last window) | "
        "HNSW build s | dense p50/p95 ms | hybrid p50/p95 ms | filtered dense p50/p95 ms | "
        "hybrid+filter p50/p95 ms | recall@50"
    )
    return table(header, "---|---:|---:|---:|---:|---|---:|---|---|---|---|---:|", rows)


def cli_tables(suites: Data) -> list[str]:
    data = suites.get("cli")
    if not data:
        return []
    phases = data["query_phases"]
    keys = ("import_s", "store_open_s", "model_load_s", "search_rerank_s")
    return [
        *table(
            "command | median s | min s",
            "---|" * 3,
            [cells(f"`{r['command']}`", f"{r['median_s']:.2f}", f"{r['min_s']:.2f}") for r in data["rows"]],
        ),
        "",
        "A cold `query` with the models in-process, split into its phases (one instrumented run):",
        "",
        *table(
            "import | store open | model load (both, concurrently) | search + rerank",
            "---|" * 4,
            [cells(*(f"{phases[k]:.2f} s" for k in keys))],
        ),
    ]


def _parser_cell(result: Data | None) -> str:
    if result is None:
        return "-"
    if "error" in result:
        return "error"
    spm = result.get("seconds_per_mb")
    speed = f"{spm:.2g} s/MB" if isinstance(spm, int | float) else "timed out"
    table_kept = "whole" if result.get("table_whole") else "split"
    lost = "" if result.get("marker") else ", **text lost**"
    headings = f"{result.get('headings', 0)}/{result.get('headings_of', 0)} headings"
    return f"{speed}, table {table_kept}, {headings}{lost}"


def parsers_tables(suites: Data) -> list[str]:
    rows = (suites.get("parsers") or {}).get("parsers", [])
    if not rows:
        return []
    earlier: dict[str, list[str]] = {}  # rows kept from an earlier run carry its command
    for row in rows:
        if row.get("command"):
            earlier.setdefault(row["command"], []).append(row["parser"])
    lines = [
        f"The {', '.join(names)} row{'s' if len(names) > 1 else ''} came from an earlier run: `{command}`."
        for command, names in earlier.items()
    ]
    lines += [""] + table(
        "parser | install MiB | " + " | ".join(PARSER_FORMATS) + " | measured",
        "---|---|" + "---|" * (len(PARSER_FORMATS) + 1),
        [
            cells(
                row["parser"],
                "(this env)" if row.get("install_mib") is None else f"{row['install_mib']:,.0f}",
                *(_parser_cell(row.get("formats", {}).get(fmt)) for fmt in PARSER_FORMATS),
                row.get("started", "-"),
            )
            for row in rows
        ],
    )
    errors = [
        (row["parser"], fmt, " ".join(result["error"].split())[:160])
        for row in rows
        for fmt, result in row.get("formats", {}).items()
        if "error" in result
    ]
    if errors:
        lines += ["", "Errors, as reported:", ""]
        for parser, error in dict.fromkeys((p, e) for p, _, e in errors):
            same = [f for p, f, e in errors if p == parser and e == error]
            lines.append(f"- {parser} ({', '.join(same)}): `{error}`")
    return lines


TABLES: dict[str, Callable[[Data], list[str]]] = {
    "runs": runs_lines,
    "provenance": provenance_table,
    "targets": targets_table,
    "glance": glance_table,
    "main-setup": main_setup,
    "main": main_tables,
    "cpu-dtypes": cpu_dtypes_table,
    "cpu-memory": cpu_memory_table,
    "cpu-matmul-memory": cpu_matmul_memory_table,
    "cpu-profile": cpu_profile_table,
    "peers-embedding": peers_table("embedding", "texts/s"),
    "peers-reranking": peers_table("reranking", "pairs/s"),
    "efficiency": efficiency_table,
    "matmul-forms": matmul_forms_table,
    "serving-embed": serving_table("embed", "texts/s"),
    "serving-rerank": serving_table("rerank", "docs/s"),
    "serving-memory": serving_memory_table,
    "serving-notes": serving_notes,
    "ingest": ingest_table,
    "store": lambda suites: store_table(suites["store"]) if suites.get("store") else [],
    "cli": cli_tables,
    "parsers": parsers_tables,
    **{f"run:{name}": run_line(name) for name in SUITE_FILES},
}


def render(template: str, suites: Data) -> str:
    lines: list[str] = []
    for line in template.splitlines():
        found = re.fullmatch(r"\{\{([\w:-]+)\}\}", line.strip())
        lines += TABLES[found.group(1)](suites) if found else [line]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))  # a table left empty leaves no gap
    return text.strip("\n") + "\n"


def write(out: Path) -> Path:
    """Render ``out/benchmarks.md`` from the suites' JSON in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "benchmarks.md"
    md.write_text(render(TEMPLATE.read_text(encoding="utf-8"), load_suites(out)), encoding="utf-8")
    return md
