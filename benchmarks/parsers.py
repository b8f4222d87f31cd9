"""Document parsers compared on generated files: install size, seconds per MB, what they kept.

``python -m benchmarks.parsers --venv docling=/tmp/v_docling ...`` runs each candidate in its own
venv (docling alone adds gigabytes) on the files of :mod:`benchmarks.document_files`, small ones
for what was kept (the marker word, the headings, the table whole) and ones ``--scale`` times
larger for seconds per MB (best of ``--repeat``). ``qwen3-rag`` (what ``ingest`` does) runs in
this environment. Rows of the output file for parsers not measured this time are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import SuiteRun, suite_parser
from .document_files import FORMATS, MARKERS, SECTIONS, TABLE, write_all

_CONVERT = {  # run by the candidate's own interpreter: defines convert(path) -> text
    "markitdown": "from markitdown import MarkItDown\nm = MarkItDown()\n"
    "convert = lambda p: m.convert(p).text_content",
    "unstructured": "from unstructured.partition.auto import partition\n"
    "convert = lambda p: '\\n\\n'.join(str(e) for e in partition(filename=p))",
    "pymupdf4llm": "import pymupdf4llm\nconvert = lambda p: pymupdf4llm.to_markdown(p)",
    "docling": "from docling.document_converter import DocumentConverter\nc = DocumentConverter()\n"
    "convert = lambda p: c.convert(p).document.export_to_markdown()",
    # What qwen3-rag ships: markitdown (DOCX via mammoth when markitdown's own reader fails), pypdf.
    "qwen3-rag": "from pathlib import Path\nfrom qwen3_rag.pipeline._loaders import read_document\n"
    "convert = lambda p: read_document(Path(p)).text",
}
_TIMER = """
import json, sys, time
path, repeat = sys.argv[1], int(sys.argv[2])
try:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        text = convert(path)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"seconds": best, "text": text}))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:300]}"}))
"""


def _in_order(line: str, row: list[str]) -> bool:
    positions = [line.find(cell) for cell in row]
    return -1 not in positions and positions == sorted(positions)


def table_kept(text: str) -> bool:
    """Every row of :data:`TABLE` has its cells on one line, in order (a table kept whole)."""
    return all(any(_in_order(line, row) for line in text.splitlines()) for row in TABLE)


def measure(python: str, parser: str, path: Path, repeat: int, timeout: float) -> dict[str, Any]:
    script = f"{_CONVERT[parser]}\n{_TIMER}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        command = [python, "-c", script, str(path), str(repeat)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    result: dict[str, Any] = json.loads(lines[-1])
    if "error" in result:
        return result
    text, titles = result["text"], {title for section in SECTIONS for title in section[:2]}
    return {
        "seconds": result["seconds"],
        "seconds_per_mb": result["seconds"] / (size_mb := path.stat().st_size / 1e6),
        "size_mb": size_mb,
        "marker": MARKERS[path.suffix[1:]] in text,
        "headings": sum(title in text for title in titles),
        "headings_of": len(titles),
        "table_whole": table_kept(text),
        "chars": len(text),
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
    candidates: dict[str, Path | None] = {"qwen3-rag": None}  # what ingest does, in this environment
    candidates.update((name, Path(folder)) for name, _, folder in (v.partition("=") for v in args.venv))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        small, large = write_all(Path(tmp) / "small"), write_all(Path(tmp) / "large", args.scale)
        for name, venv in candidates.items():
            python = sys.executable if venv is None else str(venv / "bin" / "python")
            started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            row: dict[str, Any] = {"parser": name, "started": started, "install_mib": None, "formats": {}}
            if venv is not None:  # what the candidate installed: its venv's lib/ folder
                files = (p for p in (venv / "lib").rglob("*") if not p.is_dir())
                row["install_mib"] = round(sum(p.lstat().st_size for p in files) / 2**20, 1)
            for fmt in FORMATS:
                quality = measure(python, name, small[fmt], 1, args.timeout)
                timing = measure(python, name, large[fmt], args.repeat, args.timeout)
                row["formats"][fmt] = {**quality, "seconds_per_mb": timing.get("seconds_per_mb")}
                if "error" in timing and "error" not in quality:
                    row["formats"][fmt]["timing_error"] = timing["error"]
                suite.log(f"{name} {fmt} {json.dumps(row['formats'][fmt])}")
            rows.append(row)
    out = Path(args.json)
    if out.is_file():  # keep the rows of parsers not measured this time (their venvs may be gone)
        rows = [r for r in json.loads(out.read_text())["parsers"] if r["parser"] not in candidates] + rows
    suite.write(args.json, scale=args.scale, repeat=args.repeat, parsers=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
