"""The report: a table for people, a JSON object for programs, a bar chart PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import MissingDependencyError
from ._metrics import MEASURES


def table(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """One row per mode, one column per metric; the best value of each column is starred."""
    names = list(MEASURES)
    best = {name: max(values[name] for values in metrics.values()) for name in names}
    width = max(len("mode"), *(len(mode) for mode in metrics)) + 2
    columns = [max(len(name), 6) + 3 for name in names]
    lines = ["mode".ljust(width) + "".join(n.rjust(w) for n, w in zip(names, columns, strict=True))]
    for mode, values in metrics.items():
        cells = [
            (f"{values[n]:.4f}" + ("*" if values[n] == best[n] else " ")).rjust(w)
            for n, w in zip(names, columns, strict=True)
        ]
        lines.append((mode.ljust(width) + "".join(cells)).rstrip())
    return "\n".join(lines)


def require_chart() -> None:
    """Fail now, before any model loads, if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("--chart draws with matplotlib: pip install 'qwen3-rag[eval]'") from exc


def chart(path: str | Path, metrics: Mapping[str, Mapping[str, float]], title: str) -> Path:
    """A grouped bar chart: one group per metric, one bar per mode, values written on the bars."""
    require_chart()
    # A bare Figure draws with the Agg canvas: no pyplot, no display, no global backend switch.
    from matplotlib.figure import Figure

    names = list(MEASURES)
    modes = list(metrics)
    figure = Figure(figsize=(8, 4.5), dpi=120)
    axes = figure.add_subplot()
    width = 0.8 / max(len(modes), 1)
    for i, mode in enumerate(modes):
        xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(names))]
        bars = axes.bar(xs, [metrics[mode][n] for n in names], width, label=mode)
        axes.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    axes.set_xticks(range(len(names)), names)
    axes.set_ylim(0, 1.2)  # room above the bars for the legend
    axes.set_yticks([i / 5 for i in range(6)])
    axes.set_ylabel("score")
    axes.set_title(title)
    axes.legend(loc="upper center", fontsize=8, ncols=len(modes), frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png")
    return target


def as_json(
    *,
    dataset: str,
    split: str,
    metrics: Mapping[str, Mapping[str, float]],
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "split": split,
        **details,
        "metrics": {m: dict(v) for m, v in metrics.items()},
    }
