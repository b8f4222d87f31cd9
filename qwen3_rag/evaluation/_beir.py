"""Reading a data set in the BEIR layout, checked line by line.

    DATA_DIR/corpus.jsonl       {"_id": "d1", "title": "...", "text": "..."} per line
    DATA_DIR/queries.jsonl      {"_id": "q1", "text": "..."} per line
    DATA_DIR/qrels/test.tsv     query-id <TAB> corpus-id <TAB> score, after a header line

Every problem is a :class:`DatasetError` whose message starts with ``file:line:``, so a bad line
in a million-line corpus is found at once. Only the queries that the qrels judge are evaluated
(BEIR's ``queries.jsonl`` often holds the queries of every split), in ``queries.jsonl`` order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import Qwen3RagError

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_FOLDER = "qrels"


class DatasetError(Qwen3RagError, ValueError):
    """A BEIR-layout file is missing or has a bad line; the message names the file and line."""


@dataclass(frozen=True)
class BeirDataset:
    """A corpus, the judged queries (in file order) and their relevance judgements."""

    root: Path
    corpus: dict[str, str]
    """Document id -> the text that is indexed: title and text on separate lines."""
    queries: dict[str, str]
    """Query id -> text, only the queries that ``qrels`` judges."""
    qrels: dict[str, dict[str, int]]
    """Query id -> {document id: graded relevance}, as in the qrels file."""
    split: str = "test"

    @property
    def name(self) -> str:
        return self.root.name

    def limited(self, max_queries: int | None) -> BeirDataset:
        """The same data set with only its first ``max_queries`` queries (``None``: all)."""
        if max_queries is None or max_queries >= len(self.queries):
            return self
        kept = dict(list(self.queries.items())[:max_queries])
        return BeirDataset(self.root, self.corpus, kept, {q: self.qrels[q] for q in kept}, self.split)


def document_text(title: str, text: str) -> str:
    """What is indexed for a document: its title (when it has one) on the first line, then its text."""
    title, text = title.strip(), text.strip()
    return f"{title}\n{text}" if title and text else title or text


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(
            f"{path}: no such file. The data folder must hold {CORPUS_FILE}, {QUERIES_FILE} and "
            f"{QRELS_FOLDER}/<split>.tsv (the BEIR layout)."
        )
    return path


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a line that is not a JSON object is an error."""
    with open(_require(path), encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"{path}:{number}: not valid JSON ({exc.msg}, column {exc.colno})."
                ) from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}.")
            yield number, row


def _field(path: Path, number: int, row: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # some exports write numeric ids
    if not isinstance(value, str) or (key == "_id" and not value.strip()):
        wanted = "a non-empty string" if key == "_id" else "a string"
        raise DatasetError(f"{path}:{number}: {key!r} must be {wanted}, got {value!r}.")
    return value


def _rows_by_id(path: Path, kind: str) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """``(line number, _id, row)`` for each row of a JSON-lines file; an ``_id`` seen twice is refused."""
    seen: set[str] = set()
    for number, row in _jsonl(path):
        row_id = _field(path, number, row, "_id")
        if row_id in seen:
            raise DatasetError(f"{path}:{number}: {kind} id {row_id!r} appears twice.")
        seen.add(row_id)
        yield number, row_id, row


def _read_corpus(path: Path) -> dict[str, str]:
    corpus: dict[str, str] = {}
    for number, doc_id, row in _rows_by_id(path, "document"):
        title = _field(path, number, row, "title", required=False)
        corpus[doc_id] = document_text(title, _field(path, number, row, "text"))
    if not corpus:
        raise DatasetError(f"{path}: holds no documents.")
    return corpus


def _read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for number, query_id, row in _rows_by_id(path, "query"):
        text = _field(path, number, row, "text")
        if not text.strip():
            raise DatasetError(f"{path}:{number}: query {query_id!r} has an empty text.")
        queries[query_id] = text
    return queries


def _read_qrels(path: Path, corpus: dict[str, str], queries: dict[str, str]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(_require(path), encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            cells = line.rstrip("\r\n").split("\t")
            if number == 1 and cells[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue  # the header
            if len(cells) != 3:
                raise DatasetError(
                    f"{path}:{number}: expected 3 tab-separated columns (query-id, corpus-id, score), "
                    f"got {len(cells)}."
                )
            query_id, doc_id, score = (c.strip() for c in cells)
            try:
                relevance = int(score)
            except ValueError:
                raise DatasetError(f"{path}:{number}: score {score!r} is not a whole number.") from None
            if query_id not in queries:
                raise DatasetError(f"{path}:{number}: query {query_id!r} is not in {QUERIES_FILE}.")
            if doc_id not in corpus:
                raise DatasetError(f"{path}:{number}: document {doc_id!r} is not in {CORPUS_FILE}.")
            qrels.setdefault(query_id, {})[doc_id] = relevance
    if not qrels:
        raise DatasetError(f"{path}: holds no judgements.")
    return qrels


def load_beir(root: str | Path, split: str = "test") -> BeirDataset:
    """Read and check ``root`` (see the module docstring); :class:`DatasetError` on any problem."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder (expected a data set in the BEIR layout).")
    corpus = _read_corpus(folder / CORPUS_FILE)
    queries = _read_queries(folder / QUERIES_FILE)
    qrels = _read_qrels(folder / QRELS_FOLDER / f"{split}.tsv", corpus, queries)
    judged = {q: text for q, text in queries.items() if q in qrels}
    return BeirDataset(folder.resolve(), corpus, judged, {q: qrels[q] for q in judged}, split)
