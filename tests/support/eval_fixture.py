"""A small BEIR-layout data set from real text nobody here wrote: Python standard library docstrings.

Documents are function and class docstrings (title: the qualified name); known-item queries are
the one-line summaries that open some of them, each judged relevant to its own document only.
Deterministic for a given Python version and seed.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import random
import sysconfig
from pathlib import Path

MODULES = (
    "argparse.py",
    "shutil.py",
    "textwrap.py",
    "tarfile.py",
    "zipfile/__init__.py",
    "ftplib.py",
    "imaplib.py",
    "smtplib.py",
    "http/client.py",
    "http/cookiejar.py",
    "urllib/request.py",
    "urllib/parse.py",
    "email/message.py",
    "email/utils.py",
    "calendar.py",
    "difflib.py",
    "pathlib.py",
    "pathlib/__init__.py",
    "pathlib/_local.py",
    "pathlib/_abc.py",
    "tempfile.py",
    "subprocess.py",
    "threading.py",
    "logging/__init__.py",
    "logging/handlers.py",
    "configparser.py",
    "csv.py",
    "gettext.py",
    "locale.py",
    "pickle.py",
    "inspect.py",
    "typing.py",
    "statistics.py",
    "fractions.py",
    "decimal.py",
    "_pydecimal.py",
    "datetime.py",
    "_pydatetime.py",
    "heapq.py",
    "bisect.py",
    "random.py",
    "string.py",
    "platform.py",
    "sched.py",
    "queue.py",
    "mailbox.py",
)  # files missing from this Python version are passed over


@functools.cache  # parsing the stdlib files takes seconds; several data sets are written per session
def docstrings() -> list[tuple[str, str]]:
    """``(qualified name, docstring)`` of functions and classes with a one-line summary, in file order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in MODULES:
        path = root / name
        if not path.is_file():
            continue
        module = name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node, clean=False)
            if not doc:
                continue
            doc = inspect.cleandoc(doc)
            first = doc.split("\n", 1)[0].strip()
            if not (30 <= len(first) <= 120 and 120 <= len(doc) <= 1500) or first in seen:
                continue
            seen.add(first)
            found.append((f"{module}.{node.name}", doc))
    return found


def write_dataset(folder: Path, *, documents: int = 160, queries: int = 40, seed: int = 0) -> Path:
    """Write ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` under ``folder``."""
    rng = random.Random(seed)
    pool = docstrings()
    assert len(pool) >= documents, f"only {len(pool)} docstrings found"
    chosen = rng.sample(pool, documents)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as out:
        for i, (title, text) in enumerate(chosen):
            out.write(json.dumps({"_id": f"doc{i}", "title": title, "text": text}) + "\n")
    asked = sorted(rng.sample(range(documents), queries))
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as out:
        for i in asked:
            out.write(json.dumps({"_id": f"q{i}", "text": chosen[i][1].split("\n", 1)[0].strip()}) + "\n")
        out.write(json.dumps({"_id": "unjudged", "text": "A query of another split."}) + "\n")
    with open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"q{i}\tdoc{i}\t1\n" for i in asked)
    return folder
