"""docs/benchmarks.md (tables, targets, machine, versions, command) and its PNG chart."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .common import Row, Section, Settings


def machine() -> dict[str, str]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        import psutil

        memory = f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        pass
    import os

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "torch threads": str(torch.get_num_threads()),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    found = {}
    for name in (
        "qwen3-rag",
        "torch",
        "transformers",
        "tokenizers",
        "sentence-transformers",
        "qdrant-client",
    ):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _diff(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def section_markdown(section: Section) -> list[str]:
    lines = [f"### {section.title}", ""]
    if not section.available:
        lines += [*(f"- {n}" for n in section.notes), ""]
        return lines
    if section.key == "memory":
        lines += [
            "| case | model cost (peak - after imports) | peak RSS | x one model |",
            "|---|---|---|---|",
        ]
        for row in section.rows:
            lines.append(
                f"| {row.contender} | {row.seconds:,.0f} MB | {row.extra.get('peak_mb', 0):,.0f} MB | "
                f"{_fmt(section.ratio(row))} |"
            )
    elif section.key == "hardware":
        lines += [
            "| what | GFLOP/s | peak of its dtype, GFLOP/s | share of matmul peak |",
            "|---|---|---|---|",
        ]
        fallback = section.extra.get("peak_flops", 0.0)
        for row in section.rows:
            peak = row.extra.get("peak_flops", fallback)
            lines.append(
                f"| {row.contender} | {row.extra['flops_per_s'] / 1e9:.1f} | {peak / 1e9:.0f} | "
                f"{100 * row.extra['share_of_peak']:.0f}% |"
            )
    elif section.key == "pipeline":
        lines += [
            "| store | chunks | ingest s | chunks/s | query p50 ms | query p95 ms |",
            "|---|---|---|---|---|---|",
        ]
        for row in section.rows:
            lines.append(
                f"| {row.contender} | {row.items} | {row.seconds:.1f} | {_fmt(row.items_per_s)} | "
                f"{row.extra['query_p50_ms']:.0f} | {row.extra['query_p95_ms']:.0f} |"
            )
    elif section.key == "concurrency":
        lines += [
            "| how | seconds | queries/s | time / one ideal batch | max abs diff vs batch | note |",
            "|---|---|---|---|---|---|",
        ]
        for row in section.rows:
            lines.append(
                f"| {row.contender} | {row.seconds:.2f} | {_fmt(row.items_per_s)} | "
                f"{_fmt(section.ratio(row))}x | {_diff(row.max_abs_diff)} | {row.note} |"
            )
    elif section.key == "levers":
        lines += [
            "| lever | setting | seconds | vs kept setting | max abs diff | note |",
            "|---|---|---|---|---|---|",
        ]
        for row in section.rows:
            lines.append(
                f"| {row.extra.get('lever', '')} | {row.contender} | {row.seconds:.2f} | "
                f"{_fmt(row.extra.get('relative'))}x | {_diff(row.max_abs_diff)} | {row.note} |"
            )
    else:
        unit = section.unit
        lines += [
            f"| contender | seconds | {unit} | tokens/s | qwen3-rag speed-up | max abs diff vs qwen3-rag "
            "| how |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in section.rows:
            ratio = section.ratio(row)
            lines.append(
                f"| {row.contender} | {row.seconds:.2f} | {_fmt(row.items_per_s)} | "
                f"{_fmt(row.tokens_per_s)} | "
                f"{_fmt(ratio)}x | {_diff(row.max_abs_diff)} | {row.note} |"
            )
    lines.append("")
    lines += [f"- {n}" for n in section.notes]
    if section.notes:
        lines.append("")
    return lines


def targets(sections: dict[str, Section]) -> list[tuple[str, str, bool | None]]:
    """``(target, measured, met)`` for each of the issue's targets that this run measured."""
    out: list[tuple[str, str, bool | None]] = []

    def ratio_of(key: str, contender_prefix: str) -> float | None:
        section = sections.get(key)
        if section is None or not section.available:
            return None
        row = next((r for r in section.rows if r.contender.startswith(contender_prefix)), None)
        return None if row is None else section.ratio(row)

    def add_ratio(label: str, key: str, prefix: str, goal: float) -> None:
        value = ratio_of(key, prefix)
        out.append(
            (
                label,
                "not measured" if value is None else f"{value:.2f}x",
                None if value is None else value >= goal,
            )
        )

    add_ratio("Embedding >= 1.3x sentence-transformers", "embedding", "sentence-transformers", 1.3)
    add_ratio("Embedding >= 2x official loop", "embedding", "official", 2.0)
    conc = sections.get("concurrency")
    if conc is not None and conc.available:
        worst = max(
            (conc.ratio(r) or 0.0 for r in conc.rows if "asyncio" in r.contender or "threads" in r.contender),
            default=None,
        )
        one = next((r for r in conc.rows if r.contender == "one at a time"), None)
        if worst is not None:
            out.append(
                (
                    "256 concurrent queries within 1.5x one ideal batch (worst path)",
                    f"{worst:.2f}x",
                    worst <= 1.5,
                )
            )
            if one is not None:
                best = min(
                    r.seconds for r in conc.rows if "asyncio" in r.contender or "threads" in r.contender
                )
                speed = one.seconds / best
                slow = max(
                    r.seconds for r in conc.rows if "asyncio" in r.contender or "threads" in r.contender
                )
                out.append(
                    (
                        "Concurrent >= 5x faster than one by one (slowest concurrent path)",
                        f"{one.seconds / slow:.1f}x (best path {speed:.1f}x)",
                        one.seconds / slow >= 5,
                    )
                )
    for key in sections:
        if key.startswith("rerank_"):
            tag = key.removeprefix("rerank_")
            add_ratio(f"Reranking {tag} >= 1.5x official", key, "official", 1.5)
            add_ratio(f"Reranking {tag} >= 1.0x sentence-transformers", key, "sentence-transformers", 1.0)
    diffs = [
        r.max_abs_diff
        for k, s in sections.items()
        if k == "embedding" or k.startswith("rerank_")
        for r in s.rows
        if r.max_abs_diff is not None
    ]
    if diffs:
        out.append(("Identical outputs (max abs diff <= 1e-5)", f"{max(diffs):.1e}", max(diffs) <= 1e-5))
    mem = sections.get("memory")
    if mem is not None and mem.available:
        shared = next((r for r in mem.rows if r.contender.startswith("qwen3-rag")), None)
        if shared is not None and mem.ratio(shared) is not None:
            value = mem.ratio(shared) or 0.0
            out.append(("Memory: three users of one model <= 1.1x one model", f"{value:.2f}x", value <= 1.1))
    hw = sections.get("hardware")
    if hw is not None and hw.available and hw.rows:
        share = hw.rows[0].extra["share_of_peak"]
        out.append(
            (
                f">= 50% of matmul peak at batch >= 16 ({hw.rows[0].contender})",
                f"{100 * share:.0f}%",
                share >= 0.5,
            )
        )
    return out


def chart(sections: Sequence[Section], path: Path) -> bool:
    """Horizontal bars: each contender's throughput relative to qwen3-rag, per measurement."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    groups = [
        s
        for s in sections
        if s.available and s.rows and s.key not in ("memory", "hardware", "pipeline", "levers")
    ]
    if not groups:
        return False
    fig, axes = plt.subplots(
        len(groups), 1, figsize=(8, 1.0 + 0.45 * sum(len(s.rows) for s in groups) + 0.5 * len(groups))
    )
    if len(groups) == 1:
        axes = [axes]
    for ax, section in zip(axes, groups, strict=True):
        names = [r.contender for r in section.rows]
        base = next((r for r in section.rows if r.contender == section.baseline), section.rows[0])
        values = [base.seconds / r.seconds if r.seconds > 0 else 0.0 for r in section.rows]
        colors = ["#2b6cb0" if r is base else "#a0aec0" for r in section.rows]
        ax.barh(names[::-1], values[::-1], color=colors[::-1])
        ax.axvline(1.0, color="#444", linewidth=0.8)
        ax.set_title(section.title, fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
        for y, v in enumerate(values[::-1]):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=7)
    axes[-1].set_xlabel(f"throughput relative to {groups[0].baseline} (higher is faster)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


NOTES = [
    "### How to read the main suite",
    "",
    "- Ratios come from one run on one machine; on a shared or busy machine absolute numbers "
    "move by tens of percent between runs, ratios much less. Re-run before quoting.",
    "- The official reranker example computes the logits of every position over the whole "
    "151,669-token vocabulary. On the small shape that LM head costs more than the model body, "
    "so its gap is far larger than on the 0.6B shape; the `reranker logits` lever isolates it.",
    "- qwen3-rag's reranker computes each query's prompt prefix (system prompt, instruction, "
    "query) once and reuses its keys/values for all that query's documents. The shared part is "
    "the common prefix of the real token ids, so scores equal the plain path (max abs diff "
    "column); the `reranker prefix KV cache` lever measures it on and off.",
    "- Levers kept: length-sorted token-budget batching, last-position logits, the prefix KV "
    "cache, fp32 on CPU. Dropped: bf16 on CPUs without native bf16 (slower, and about 1e-3 off "
    "fp32), changing the thread count. The token-budget default stays at 4096 on CPU: 2048 "
    "took 0.84-1.03x its time on the small shape across runs and was not clearly better on the "
    "0.6B shape, where run-to-run noise was larger than the difference; 8192 and up are slower.",
    "- Concurrent requests: the micro-batcher turns 256 single-query calls from asyncio tasks "
    "or threads, direct or through the LangChain and LlamaIndex adapters, into a few forward "
    "passes; on a 2-core CPU one query alone already uses the cores fairly well, so batching "
    "gains a few times over one-at-a-time, not the 5x or more a GPU gives.",
    "",
]


def main_meta(
    settings: Settings, command: str, started: str, wall_s: float, load_start: float
) -> dict[str, Any]:
    """What the main suite's section of the report says about its run (kept in its JSON)."""
    from dataclasses import asdict

    from .common import load_average
    from .host import describe_host

    return {
        "command": command,
        "started": started,
        "seconds": wall_s,
        "load_average_start_end": [load_start, load_average()],
        "shape": asdict(settings.shape),
        "body_params": settings.shape.body_params(),
        "corpus": settings.corpus.stats(),
        "embed_batch_size": settings.embed_batch_size,
        "rerank_batch_size": settings.rerank_batch_size,
        "repeat": settings.repeat,
        "machine": machine(),
        "host": describe_host(),
        "versions": versions(),
    }


def as_json(sections: list[Section]) -> list[dict[str, Any]]:
    return [
        {
            "key": s.key,
            "title": s.title,
            "available": s.available,
            "baseline": s.baseline,
            "unit": s.unit,
            "notes": s.notes,
            "extra": s.extra,
            "rows": [
                {
                    "contender": r.contender,
                    "seconds": r.seconds,
                    "items": r.items,
                    "tokens": r.tokens,
                    "max_abs_diff": r.max_abs_diff,
                    "ratio": s.ratio(r),
                    "note": r.note,
                    **r.extra,
                }
                for r in s.rows
            ],
        }
        for s in sections
    ]


_ROW_FIELDS = ("contender", "seconds", "items", "tokens", "max_abs_diff", "note")


def sections_from_json(data: list[dict[str, Any]]) -> list[Section]:
    """The inverse of :func:`as_json` (``ratio`` is recomputed, everything else kept)."""
    sections = []
    for item in data:
        rows = [
            Row(
                r["contender"],
                r["seconds"],
                r["items"],
                r["tokens"],
                r.get("max_abs_diff"),
                r.get("note", ""),
                {k: v for k, v in r.items() if k not in (*_ROW_FIELDS, "ratio")},
            )
            for r in item.get("rows", [])
        ]
        sections.append(
            Section(
                item["key"],
                item["title"],
                rows,
                baseline=item.get("baseline", "qwen3-rag"),
                unit=item.get("unit", "texts/s"),
                available=item.get("available", True),
                notes=list(item.get("notes", [])),
                extra=dict(item.get("extra", {})),
            )
        )
    return sections


def peer_sections(peers: dict[str, Any]) -> list[Section]:
    """The peers suite as chart groups: throughput relative to qwen3-rag float32, per task."""
    out = []
    for task in ("embedding", "reranking"):
        rows = [
            Row(f"{r['engine']} {r['dtype']}", r["seconds"], r["items"], r["tokens"])
            for r in peers.get("runs", [])
            if r["task"] == task and r.get("seconds")
        ]
        if rows:
            title = f"Peers, {task}, {peers['shape']['name']} shape"
            out.append(Section(f"peers_{task}", title, rows, baseline="qwen3-rag float32"))
    return out


def load_suites(out: Path) -> dict[str, Any]:
    """Every suite's JSON found in ``out`` (``None`` for a suite that never ran there)."""
    from .run import RUN_FILE, SUITE_FILES

    found: dict[str, Any] = {}
    for name, file in SUITE_FILES.items():
        path = out / file
        found[name] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if isinstance(found["main"], list):  # the first format: the sections alone
        found["main"] = {"meta": None, "sections": found["main"]}
    run_path = out / RUN_FILE
    found["run"] = json.loads(run_path.read_text(encoding="utf-8")) if run_path.is_file() else None
    return found


def _setup_lines(meta: dict[str, Any]) -> list[str]:
    shape = meta["shape"]
    stats = meta["corpus"]
    return [
        f"- Model shape `{shape['name']}`: {shape['layers']} layers, hidden {shape['hidden']}, heads "
        f"{shape['heads']}/{shape['kv_heads']}, head_dim {shape['head_dim']}, ffn {shape['ffn']}, vocab "
        f"{shape['vocab']} (random weights; speed does not depend on their values), "
        f"{meta['body_params'] / 1e6:.1f}M non-embedding parameters.",
        f"- Corpus: {stats.get('source')}: {stats.get('documents')} passages, {stats.get('tokens')} tokens "
        f"(min {stats.get('min')}, median {stats.get('p50')}, p90 {stats.get('p90')}, "
        f"max {stats.get('max')}), "
        "real Qwen3 tokenizer; queries are docstring summary lines.",
        f"- Fixed batch sizes for the contenders that take one: embedding {meta['embed_batch_size']}, "
        f"reranking {meta['rerank_batch_size']}. qwen3-rag plans its own batches (token budget).",
        f"- Timings are the best of {meta['repeat']} run(s) after a warm-up (the official reranker code, "
        "20x+ slower, is timed once).",
        "- Machine: " + ", ".join(f"{k} {v}" for k, v in meta["machine"].items()),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
    ]


ENGINE_ROWS = (
    ("qwen3-rag", "qwen3-rag"),
    ("qwen3-rag-1t", "qwen3-rag, 1 thread"),
    ("vllm", "vLLM offline"),
    ("infinity", "Infinity"),
)


def _headline(suites: dict[str, Any], hardware: dict[str, Any] | None) -> list[str]:
    """Issue 13 at a glance: qwen3-rag vs the peers at equal dtype, and the matmul-peak shares."""
    from .report_suites import DTYPE_SHORT, efficiency_rows, peer_ratio, peer_runs

    peers, serving = suites.get("peers"), suites.get("serving")
    lines = ["## Issue 13 at a glance", ""]
    if peers:
        runs = peer_runs(peers)
        dtypes = peers.get("settings", {}).get("dtypes", [])
        lines += [
            f"Throughput in tokens/s, {peers['shape']['name']} shape, same weights, texts and dtype, "
            "one run (peers suite); `qwen3-rag / X` > 1 means qwen3-rag is faster.",
            "",
            "| task | " + " | ".join(DTYPE_SHORT.get(d, d) for d in dtypes) + " |",
            "|---|" + "---|" * len(dtypes),
        ]
        for task in ("embedding", "reranking"):
            for engine, name in ENGINE_ROWS:
                cells = []
                for d in dtypes:
                    r = runs.get((engine, task, d))
                    cells.append("-" if not r or not r.get("tokens_per_s") else f"{r['tokens_per_s']:,.0f}")
                if any(c != "-" for c in cells) or engine == "qwen3-rag":
                    lines.append(f"| {task}: {name} | " + " | ".join(cells) + " |")
            for engine, name in ENGINE_ROWS[2:]:
                ratios = [peer_ratio(peers, engine, task, d) for d in dtypes]
                if any(r is not None for r in ratios):
                    cells = ["-" if r is None else f"**{r:.2f}x**" for r in ratios]
                    lines.append(f"| {task}: qwen3-rag / {name} | " + " | ".join(cells) + " |")
                one = [peer_ratio(peers, engine, task, d, base="qwen3-rag-1t") for d in dtypes]
                if engine == "vllm" and any(r is not None for r in one):
                    cells = ["-" if r is None else f"{r:.2f}x" for r in one]
                    lines.append(f"| {task}: qwen3-rag 1 thread / {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if serving:
        runs_s = serving.get("runs", [])
        parts = []
        for workload in ("embed", "rerank"):
            base = next(
                (r for r in runs_s if r["workload"] == workload and r["contender"] == "in-process"), None
            )
            vllm = next(
                (r for r in runs_s if r["workload"] == workload and r["contender"].startswith("vLLM")), None
            )
            if base and vllm:
                parts.append(f"{workload} {base['items_per_s'] / vllm['items_per_s']:.2f}x")
        if parts:
            lines += [
                f"Over HTTP (serving suite, {serving['shape']['name']} shape, fp32, "
                f"{serving['settings']['concurrency']} concurrent clients): qwen3-rag in-process / vLLM CPU "
                f"server = {', '.join(parts)}.",
                "",
            ]
    shares = efficiency_rows(hardware, peers)
    if shares:
        lines += [
            "Matmul-peak efficiency (useful FLOP/s on the mixed-length corpus / the measured matmul peak of "
            "the same dtype; target >= 60%): "
            + ", ".join(f"{what} {DTYPE_SHORT.get(d, d)} {100 * s:.0f}%" for what, d, _, _, s in shares)
            + ".",
            "",
        ]
    return lines


def _run_lines(data: dict[str, Any] | None) -> list[str]:
    """How long the one command took, how busy the machine was, and what ran after it."""
    from .run import normalize_record

    record = normalize_record(data)
    lines: list[str] = []

    def describe(run: dict[str, Any]) -> str:
        per_suite = ", ".join(f"{n} {v['seconds'] / 60:.1f}" for n, v in run["suites"].items())
        return (
            f"`{run['command']}`, started {run['started']}, took {run['seconds'] / 60:.1f} min "
            f"({per_suite} min per suite; 1-minute load average {run.get('load_average_start', 0):.1f} at "
            f"the start, {run.get('load_average_end', 0):.1f} at the end)"
        )

    full = record.get("last_full")
    if full:
        busiest = max(full.get("load_average_start", 0.0), full.get("load_average_end", 0.0))
        # Two cores: a load average above about 2.5 means other work shared them during the run.
        conditions = (
            "This 2-core machine was shared with other work during the run: absolute numbers are "
            "slower than on an idle machine and move by tens of percent between runs; ratios "
            "measured side by side in one suite much less."
            if busiest > 2.5
            else "The machine ran nothing else of note (load average at most the benchmark's own); "
            "absolute numbers still move by about ten percent between runs, ratios measured side by "
            "side in one suite less."
        )
        lines += [f"**The last full run: {describe(full)}.** {conditions}", ""]
        failed = [f"{n} (exit {v['returncode']})" for n, v in full["suites"].items() if v["returncode"]]
        if failed:
            lines += [
                f"**Suites that failed in that run: {', '.join(failed)}**; their sections below are from "
                "the JSON of another run (see its date in the table).",
                "",
            ]
    for run in record.get("later", []):
        lines += [f"Run after it, of some suites only: {describe(run)}.", ""]
    return lines


def _provenance_table(suites: dict[str, Any]) -> list[str]:
    from .run import SUITE_FILES

    lines = [
        "| suite | JSON | command | started | took | load average start / end |",
        "|---|---|---|---|---|---|",
    ]
    for name, file in SUITE_FILES.items():
        data = suites.get(name)
        if data is None:
            lines.append(f"| {name} | - | not run into this folder | - | - | - |")
            continue
        meta = (data.get("meta") or {}) if name == "main" else data
        loads = meta.get("load_average_start_end") or [None, None]
        load_text = "-" if loads[0] is None else f"{loads[0]:.1f} / {loads[1]:.1f}"
        took = "-" if meta.get("seconds") is None else f"{meta['seconds'] / 60:.1f} min"
        lines.append(
            f"| {name} | [{file}]({file}) | `{meta.get('command', '?')}` | {meta.get('started', '?')} | "
            f"{took} | {load_text} |"
        )
    return lines


INTRO = [
    "# Benchmarks",
    "",
    "qwen3-rag against the usual ways of running Qwen3-Embedding and Qwen3-Reranker (sentence-transformers,",
    "the official code), the engines people pick for throughput (vLLM CPU, Infinity), its own CPU dtypes,",
    "serving and ingest memory, on this machine's CPU. Written entirely by `benchmarks/`: every table and",
    "every number in the prose comes from the JSON files beside this page, which the suites write.",
    "Speed-ups are `contender time / qwen3-rag time` from the same run (> 1: qwen3-rag is faster).",
    "",
    "## Regenerate",
    "",
    "```",
    "bash .ci/setup-vllm && bash .ci/setup-infinity   # the peers' own environments (once)",
    "python -m benchmarks.run                          # every suite, then this page and its chart",
    "python -m benchmarks.run --render-only            # this page and the chart from the saved JSON",
    "python -m benchmarks.run --suites peers           # one suite (the others' JSON kept), then render",
    "```",
    "",
    "(`bash .ci/run-benchmarks` does the first two lines.) Each suite writes its JSON here, then the",
    "report is rendered from all of them: nothing on this page is edited by hand, so a run of any",
    "suite never loses another's section. Without `.venv-vllm` or `.venv-infinity` their rows say so.",
    "`--quick` shrinks every suite (the smoke test runs it on a micro shape).",
    "",
]


def write(out: Path) -> Path:
    """Render ``out/benchmarks.md`` and ``out/benchmarks.png`` from the suites' JSON in ``out``."""
    from . import cli_cold, report_parsers
    from . import report_suites as rs

    out.mkdir(parents=True, exist_ok=True)
    md, png = out / "benchmarks.md", out / "benchmarks.png"
    suites = load_suites(out)
    main = suites.get("main")
    sections = sections_from_json(main["sections"]) if main else []
    meta = main.get("meta") if main else None
    by_key = {s.key: s for s in sections}
    hardware = None
    if "hardware" in by_key and by_key["hardware"].available:
        hw = by_key["hardware"]
        hardware = {
            "shape": meta["shape"]["name"] if meta else "small",
            "extra": hw.extra,
            "rows": [{"contender": r.contender, **r.extra} for r in hw.rows],
        }
    peers = suites.get("peers")
    groups = sections + (peer_sections(peers) if peers else [])
    has_chart = chart(groups, png)

    lines = list(INTRO)
    lines += _run_lines(suites.get("run"))
    lines += ["Where each section's numbers come from:", "", *_provenance_table(suites), ""]

    target_rows = targets(by_key) if main else []
    if suites.get("cpu-dtypes"):
        target_rows += rs.cpu_dtypes_targets(suites["cpu-dtypes"])
    if peers:
        target_rows += rs.peers_targets(peers)
    if suites.get("serving"):
        target_rows += rs.serving_targets(suites["serving"])
    target_rows += rs.efficiency_targets(hardware, peers)
    if suites.get("ingest"):
        target_rows += rs.ingest_targets(suites["ingest"])
    if suites.get("store"):
        target_rows += rs.store_targets(suites["store"])
    if suites.get("cli"):
        target_rows += cli_cold.targets(suites["cli"])
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for label, measured, met in target_rows:
        lines.append(f"| {label} | {measured} | {'-' if met is None else ('yes' if met else '**no**')} |")
    lines.append("")
    lines += _headline(suites, hardware)
    if has_chart:
        lines += [
            "![throughput relative to qwen3-rag](benchmarks.png)",
            "",
            "The chart: each group's throughput relative to qwen3-rag (the peers relative to qwen3-rag "
            "float32), higher is faster.",
            "",
        ]
    lines += ["## Main suite: qwen3-rag vs sentence-transformers and the official code", ""]
    if not main:
        lines += ["Not run into this folder: `python -m benchmarks.run --suites main`.", ""]
    else:
        if meta:
            lines += [
                "qwen3-rag against the usual ways of running the models on the same weights, inputs, dtype "
                "(float32) and device (CPU).",
                "",
                rs.provenance(meta),
                "",
                *_setup_lines(meta),
                "",
            ]
        for section in sections:
            lines += section_markdown(section)
        lines += NOTES
    renderers = {
        "cpu-dtypes": (rs.cpu_dtypes_markdown, "## CPU dtypes and int8 (issue 13)"),
        "peers": (rs.peers_markdown, "## Peers: vLLM CPU and Infinity (issue 13 §3)"),
        "serving": (rs.serving_markdown, "## Serving: in-process vs `qwen3-rag serve` vs vLLM CPU"),
        "ingest": (rs.ingest_markdown, "## Ingest memory (issue 9)"),
        "store": (rs.store_markdown, "## The embedded store at real sizes (issue 19)"),
        "cli": (cli_cold.markdown, "## Cold command line (issue 24)"),
        "parsers": (report_parsers.markdown, "## Document parsers (issue 23)"),
    }
    for name, (render, heading) in renderers.items():
        if suites.get(name):
            lines += render(suites[name])
        else:  # the section stays in the page, saying how to fill it
            lines += [
                heading,
                "",
                f"Not run into this folder: `python -m benchmarks.run --suites {name}`.",
                "",
            ]
        if name == "peers":
            lines += rs.efficiency_markdown(hardware, peers)
    lines += GPU_NOTE
    md.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return md


GPU_NOTE = [
    "## GPU",
    "",
    "Issue 13 §5 (0.6B/4B/8B on a GPU, sdpa vs flash-attention, the OOM split, the fp16 NaN guard) was "
    "not run: no GPU machine was available to the runs behind this page. Everything above is CPU-only.",
    "",
]
