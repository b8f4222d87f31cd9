"""Benchmark inputs: real text nobody here wrote, available offline, deterministic.

Documents are passages cut from the Python standard library's docstrings (read with ``ast``,
nothing is imported), with token lengths drawn from a long-tailed (log-normal) distribution
clipped to ``[min_tokens, max_tokens]``: most passages are short, a few are long, as chunks in
a RAG index are. Queries are the one-line summaries that open function docstrings. The same
seed, Python version and tokenizer give the same corpus.
"""

from __future__ import annotations

import ast
import inspect
import math
import random
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SKIP_PARTS = {"test", "tests", "idlelib", "site-packages", "lib2to3", "turtledemo", "__pycache__"}


@dataclass(frozen=True)
class Corpus:
    """Documents and queries with their token counts (real Qwen3 tokenizer, no special tokens)."""

    documents: list[str]
    document_tokens: list[int]
    queries: list[str]
    source: str

    def stats(self) -> dict[str, Any]:
        lengths = sorted(self.document_tokens)
        if not lengths:
            return {"documents": 0}

        def pct(p: float) -> int:
            return lengths[min(len(lengths) - 1, int(p * len(lengths)))]

        return {
            "documents": len(lengths),
            "tokens": sum(lengths),
            "min": lengths[0],
            "p50": pct(0.5),
            "p90": pct(0.9),
            "max": lengths[-1],
            "queries": len(self.queries),
            "source": self.source,
        }


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [
        path for path in root.rglob("*.py") if not _SKIP_PARTS.intersection(path.relative_to(root).parts)
    ]
    return sorted(files, key=lambda p: str(p.relative_to(root)))


def iter_docstrings(files: list[Path]) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` for every module, class and function docstring, in file order."""
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc and doc.strip():
                    yield type(node).__name__, inspect.cleandoc(doc)


def build_corpus(
    tokenizer: Any,
    *,
    documents: int,
    queries: int,
    seed: int = 0,
    median_tokens: int = 120,
    sigma: float = 0.9,
    min_tokens: int = 16,
    max_tokens: int = 1000,
) -> Corpus:
    """Cut ``documents`` passages from stdlib docstrings and pick ``queries`` summary lines.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (the real Qwen3 one): passage lengths are
    exact token counts, cut on token boundaries through the offsets.
    """
    rng = random.Random(seed)
    files = stdlib_files()
    stream = iter_docstrings(files)
    summaries: list[str] = []
    docs: list[str] = []
    lengths: list[int] = []
    buffer = ""
    while len(docs) < documents:
        target = round(math.exp(rng.gauss(math.log(median_tokens), sigma)))
        target = max(min_tokens, min(max_tokens, target))
        window = 12 * target + 64  # characters enough for ``target`` tokens of prose or code
        estimate = len(tokenizer.encode(buffer[:window], add_special_tokens=False).ids) if buffer else 0
        while True:
            if estimate >= target:
                encoding = tokenizer.encode(buffer[:window], add_special_tokens=False)
                if len(encoding.ids) >= target:
                    break
                window *= 2
            try:
                kind, text = next(stream)
            except StopIteration:
                raise ValueError(
                    f"The standard library ran out of docstrings after {len(docs)} documents."
                ) from None
            first = text.split("\n", 1)[0].strip()
            if kind != "Module" and 20 <= len(first) <= 120 and first.endswith("."):
                summaries.append(first)
            buffer = f"{buffer}\n\n{text}" if buffer else text
            estimate += len(tokenizer.encode(text, add_special_tokens=False).ids) + 1
        end = encoding.offsets[target - 1][1]
        passage = buffer[:end].strip()
        buffer = buffer[end:].lstrip()
        if not passage:
            continue
        docs.append(passage)
        lengths.append(len(tokenizer.encode(passage, add_special_tokens=False).ids))
    # Top up the query pool from further docstrings if the documents did not need many.
    while len(summaries) < queries:
        try:
            kind, text = next(stream)
        except StopIteration:
            break
        first = text.split("\n", 1)[0].strip()
        if kind != "Module" and 20 <= len(first) <= 120 and first.endswith("."):
            summaries.append(first)
    picked = rng.sample(summaries, min(queries, len(summaries)))
    source = f"Python {sysconfig.get_python_version()} standard library docstrings"
    return Corpus(docs, lengths, picked, source)
