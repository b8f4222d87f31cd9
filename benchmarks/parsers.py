"""What ``ingest`` makes of DOCX, PPTX, XLSX, HTML, EPUB and PDF (issue 23): what small generated files
kept, seconds per MB on ``--scale`` times larger ones. (The comparison with other parsers that picked
markitdown was retired; docs/benchmarks.md keeps its findings.)"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import SuiteRun, suite_parser
from .document_files import FORMATS, MARKERS, SECTIONS, TABLE, write_all


def table_kept(text: str) -> bool:
    """Every row of :data:`TABLE` has its cells on one line, in order (a table kept whole)."""
    lines = text.splitlines()
    found = [[[line.find(cell) for cell in row] for line in lines] for row in TABLE]
    return all(any(-1 not in at and at == sorted(at) for at in row) for row in found)


def converted(path: Path, repeat: int) -> tuple[float, str]:
    """Best seconds of ``repeat`` conversions as ``ingest`` does them, and the text."""
    from qwen3_rag.pipeline._loaders import read_document

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        document = read_document(path)
        best = min(best, time.perf_counter() - started)
    if (text := getattr(document, "text", None)) is None:  # a skipped file says why
        raise RuntimeError(getattr(document, "reason", "no text"))
    return best, text


def main(argv: list[str] | None = None) -> int:
    parser = suite_parser("parsers", __doc__)
    parser.set_defaults(json="docs/benchmarks-parsers.json")
    parser.add_argument("--scale", type=int, default=300, help="body repeats per file (timing size)")
    parser.add_argument("--repeat", type=int, default=3, help="timed conversions per file (best kept)")
    args = parser.parse_args(argv)
    suite, titles = SuiteRun("parsers", argv), {title for section in SECTIONS for title in section[:2]}
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        small, large = write_all(Path(tmp) / "small"), write_all(Path(tmp) / "large", args.scale)
        for fmt in FORMATS:
            try:
                text, (seconds, _) = converted(small[fmt], 1)[1], converted(large[fmt], args.repeat)
            except Exception as error:  # the row says what failed; the other formats run
                results[fmt] = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
                continue
            results[fmt] = {
                "seconds_per_mb": seconds / (large[fmt].stat().st_size / 1e6),
                "marker": MARKERS[fmt] in text,
                "headings": sum(title in text for title in titles),
                "headings_of": len(titles),
                "table_whole": table_kept(text),
                "chars": len(text),
            }
            suite.log(f"{fmt} {results[fmt]}")
    row = {"parser": "qwen3-rag", "started": started, "install_mib": None, "formats": results}
    suite.write(args.json, scale=args.scale, repeat=args.repeat, parsers=[row])
    return 0


if __name__ == "__main__":
    sys.exit(main())
