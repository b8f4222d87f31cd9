"""Document parsers compared on generated files: install size, seconds per MB, what they kept.

``python -m benchmarks.parsers --venv markitdown=/tmp/v_markitdown --venv docling=/tmp/v_docling ...``
runs each candidate inside its own throwaway virtual environment (they do not fit in one: docling
alone adds gigabytes), on the files of :mod:`benchmarks.document_files` (``--scale`` repeats
their body to reach timing sizes), and writes ``docs/benchmarks-parsers.json``. For each parser and
format it records seconds per MB of input (best of ``--repeat``), whether the text's marker word
came through, how many of the section headings, and whether the table was kept whole (every row's
cells on one line, in order). ``qwen3-rag`` (what ``ingest`` does with the ``documents`` extra:
markitdown, and pypdf for PDF) is measured in the current environment. Rows of an existing output
file for parsers not measured this time are kept. The report renders the table
(`benchmarks/report.py`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import SuiteRun, suite_parser
from .document_files import MARKERS, SECTIONS, TABLE, write_all

FORMATS = ("docx", "pptx", "xlsx", "html", "epub", "pdf")
# What each candidate is asked to do, run by the candidate's own interpreter: print JSON
# {"seconds": best, "text": ...} or {"error": ...} for one file.
_CONVERT = {
    "markitdown": (
        "from markitdown import MarkItDown\nm = MarkItDown()\nconvert = lambda p: m.convert(p).text_content"
    ),
    "unstructured": (
        "from unstructured.partition.auto import partition\n"
        "convert = lambda p: '\\n\\n'.join(str(e) for e in partition(filename=p))"
    ),
    "pymupdf4llm": "import pymupdf4llm\nconvert = lambda p: pymupdf4llm.to_markdown(p)",
    "docling": (
        "from docling.document_converter import DocumentConverter\nc = DocumentConverter()\n"
        "convert = lambda p: c.convert(p).document.export_to_markdown()"
    ),
    # What qwen3-rag ships: markitdown (DOCX via mammoth when markitdown's own reader fails), pypdf.
    "qwen3-rag": (
        "from pathlib import Path\nfrom qwen3_rag.pipeline._loaders import read_document\n"
        "convert = lambda p: read_document(Path(p)).text"
    ),
}
_TIMER = """
import json, sys, time
{convert}
path, repeat = sys.argv[1], int(sys.argv[2])
try:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        text = convert(path)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({{"seconds": best, "text": text}}))
except Exception as exc:
    print(json.dumps({{"error": f"{{type(exc).__name__}}: {{str(exc)[:300]}}"}}))
"""


def _site_packages_mib(venv: Path) -> float:
    """Size of what the candidate installed (its venv's site-packages), MiB."""
    total = 0
    for root, _, files in os.walk(venv / "lib"):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total / 2**20


def table_kept(text: str) -> bool:
    """Every row of :data:`TABLE` has its cells on one line, in order (a table kept whole)."""
    lines = text.splitlines()
    for row in TABLE:
        found = False
        for line in lines:
            positions = [line.find(cell) for cell in row]
            if all(p >= 0 for p in positions) and positions == sorted(positions):
                found = True
                break
        if not found:
            return False
    return True


def judge(fmt: str, text: str) -> dict[str, Any]:
    titles = {title for chapter, section, _ in SECTIONS for title in (chapter, section)}
    return {
        "marker": MARKERS[fmt] in text,
        "headings": sum(title in text for title in titles),
        "headings_of": len(titles),
        "table_whole": table_kept(text),
        "chars": len(text),
    }


def measure(python: str, parser: str, path: Path, repeat: int, timeout: float) -> dict[str, Any]:
    script = _TIMER.format(convert=_CONVERT[parser])
    try:
        done = subprocess.run(
            [python, "-c", script, str(path), str(repeat)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" in result:
        return result
    size_mb = path.stat().st_size / 1e6
    return {
        "seconds": result["seconds"],
        "seconds_per_mb": result["seconds"] / size_mb,
        "size_mb": size_mb,
        **judge(path.suffix[1:], result["text"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("parsers", __doc__)
    parser.set_defaults(json="docs/benchmarks-parsers.json")
    parser.add_argument("--venv", action="append", default=[], metavar="NAME=DIR", help="a candidate's venv")
    parser.add_argument("--scale", type=int, default=300, help="body repeats per file (timing size)")
    parser.add_argument("--repeat", type=int, default=3, help="timed conversions per file (best kept)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    suite = SuiteRun("parsers", argv)
    candidates: dict[str, tuple[str, Path | None]] = {"qwen3-rag": (sys.executable, None)}
    for item in args.venv:
        name, _, folder = item.partition("=")
        candidates[name] = (str(Path(folder) / "bin" / "python"), Path(folder))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        small, large = write_all(Path(tmp) / "small"), write_all(Path(tmp) / "large", args.scale)
        for name, (python, venv) in candidates.items():
            formats = FORMATS
            row: dict[str, Any] = {
                "parser": name,
                "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "install_mib": None if venv is None else round(_site_packages_mib(venv), 1),
                "formats": {},
            }
            for fmt in formats:
                quality = measure(python, name, small[fmt], 1, args.timeout)
                timing = measure(python, name, large[fmt], args.repeat, args.timeout)
                row["formats"][fmt] = {**quality, "seconds_per_mb": timing.get("seconds_per_mb")}
                if "error" in timing and "error" not in quality:
                    row["formats"][fmt]["timing_error"] = timing["error"]
                print(name, fmt, json.dumps(row["formats"][fmt]), file=sys.stderr, flush=True)
            rows.append(row)
    out = Path(args.json)
    if out.is_file():  # keep the rows of parsers not measured this time (their venvs may be gone)
        measured = {row["parser"] for row in rows}
        rows = [r for r in json.loads(out.read_text())["parsers"] if r["parser"] not in measured] + rows
    suite.write(args.json, scale=args.scale, repeat=args.repeat, parsers=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
