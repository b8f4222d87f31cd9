"""Benchmark inputs: real text nobody here wrote, offline and deterministic. Documents are passages
cut from the Python standard library's docstrings (read with ``ast``), their token lengths drawn
log-normal and clipped (mostly short, a few long, as chunks in a RAG index); queries are the
one-line summaries that open docstrings. Same seed, Python and tokenizer: same corpus."""

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
        n = sorted(self.document_tokens)
        p50, p90 = (n[min(len(n) - 1, int(p * len(n)))] for p in (0.5, 0.9))
        return {"documents": len(n), "tokens": sum(n), "min": n[0], "p50": p50, "p90": p90, "max": n[-1],
                "queries": len(self.queries), "source": self.source}


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [p for p in root.rglob("*.py") if not _SKIP_PARTS.intersection(p.relative_to(root).parts)]
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


def _summary(kind: str, text: str) -> str | None:
    first = text.split("\n", 1)[0].strip()
    return first if kind != "Module" and 20 <= len(first) <= 120 and first.endswith(".") else None


def build_corpus(tokenizer: Any, *, documents: int, queries: int, seed: int = 0, median_tokens: int = 120,
                 sigma: float = 0.9, min_tokens: int = 16, max_tokens: int = 1000) -> Corpus:
    """``documents`` passages cut on token boundaries (exact lengths in ``tokenizer``, a
    ``tokenizers.Tokenizer``: the real Qwen3 one) and ``queries`` summary lines."""

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    rng = random.Random(seed)
    stream = iter_docstrings(stdlib_files())
    summaries: list[str] = []
    docs: list[str] = []
    lengths: list[int] = []
    buffer = ""
    while len(docs) < documents:
        target = max(min_tokens, min(max_tokens, round(math.exp(rng.gauss(math.log(median_tokens), sigma)))))
        window = 12 * target + 64  # characters enough for ``target`` tokens of prose or code
        estimate = count(buffer[:window]) if buffer else 0
        while True:
            if estimate >= target:
                encoding = tokenizer.encode(buffer[:window], add_special_tokens=False)
                if len(encoding.ids) >= target:
                    break
                window *= 2
            item = next(stream, None)
            if item is None:
                raise ValueError(f"The standard library ran out of docstrings after {len(docs)} documents.")
            if summary := _summary(*item):
                summaries.append(summary)
            buffer = f"{buffer}\n\n{item[1]}" if buffer else item[1]
            estimate += count(item[1]) + 1
        end = encoding.offsets[target - 1][1]
        passage, buffer = buffer[:end].strip(), buffer[end:].lstrip()
        if passage:
            docs.append(passage)
            lengths.append(count(passage))
    for item in stream:  # top up the query pool if the documents did not need many
        if len(summaries) >= queries:
            break
        if summary := _summary(*item):
            summaries.append(summary)
    picked = rng.sample(summaries, min(queries, len(summaries)))
    source = f"Python {sysconfig.get_python_version()} standard library docstrings"
    return Corpus(docs, lengths, picked, source)
