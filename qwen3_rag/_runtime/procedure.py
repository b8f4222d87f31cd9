"""The Qwen3 procedure: the only code that knows the official rules (docs/reference.md).

Each model's procedure has three named steps around the model run, whichever backend runs it
(local torch + micro-batcher, or a remote server):

- **format**: the text the model reads (the query instruction; the reranker body);
- **tokenize**: the exact token ids (one final ``<|endoftext|>`` for embeddings; the whole
  chat-template prefix and suffix around a body cut from its end for the reranker);
- **finish**: what is made of the model's output (MRL slice, then L2 normalisation; P(yes)
  scores with their log-odds), refusing NaN/inf.

The reranker's ``long_documents="max_window"`` (our extension; ``"truncate"`` is the official
behaviour) is a tokenize rule too: :meth:`RerankProcedure.windows` splits an over-long document
into overlapping windows, each inside the whole template, and :meth:`RerankProcedure.best_windows`
keeps each document's best window.

The prompt strings themselves live in :mod:`qwen3_rag._prompts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._errors import InvalidOptionError, NumericalError
from .._prompts import (
    EMBEDDING_END_TOKEN,
    RERANKER_NO_TOKEN,
    RERANKER_PREFIX,
    RERANKER_SUFFIX,
    RERANKER_YES_TOKEN,
    format_query,
    format_rerank_body,
)
from .validation import check_instruction, check_positive_int, check_text, check_texts

Warn = Callable[[str, str], None]
"""``warn(topic, message)``: log ``message`` the first time ``topic`` comes up for a model."""


class _Procedure:
    def __init__(self, tokenizer: Any, *, name: str, instruction: str, warn: Warn, describe: str) -> None:
        self.tokenizer = tokenizer
        self.name = name
        self.instruction = check_instruction(instruction)
        self.warn = warn
        self._describe = describe  # "in float32", "at http://...": where the NaN came from

    def task(self, instruction: str | None) -> str:
        """The instruction of one call: its own, or the default."""
        return self.instruction if instruction is None else check_instruction(instruction)

    def _content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:  # the tokenizer refuses an empty batch
            return []
        # verbose=False: transformers' "longer than model_max_length" notice is wrong here; the
        # callers cut to max_length themselves, with their own warning.
        ids: list[list[int]] = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)[
            "input_ids"
        ]
        return ids

    def _non_finite(self, bad: int, count: int, what: str, result: str) -> NumericalError:
        return NumericalError(
            f"{self.name!r} produced NaN/inf {self._describe} for {bad} of these {count} {what}, "
            f"even computed alone; no {result} was returned. Two known causes: half precision "
            "(load the model with dtype='float32' or 'bfloat16'; float16 can overflow), and the "
            "attention kernel (some SDPA kernels give NaN on padded rows: load with "
            "attn_implementation='eager')."
        )


class EmbeddingProcedure(_Procedure):
    """Qwen3-Embedding: format queries, tokenize with one end token, finish (MRL, normalise)."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        name: str,
        max_length: int,
        instruction: str,
        warn: Warn,
        describe: str = "",
    ) -> None:
        super().__init__(tokenizer, name=name, instruction=instruction, warn=warn, describe=describe)
        hint = "It counts the final <|endoftext|>; the official default is 8192."
        self.max_length = check_positive_int(max_length, "max_length", minimum=2, hint=hint)
        end_id = tokenizer.convert_tokens_to_ids(EMBEDDING_END_TOKEN)
        if end_id is None or end_id == tokenizer.unk_token_id:
            raise InvalidOptionError(
                f"The tokenizer of {name!r} has no {EMBEDDING_END_TOKEN!r} token; it is not a "
                "Qwen3-Embedding tokenizer."
            )
        self.end_id = int(end_id)

    # ----------------------------------------------------------------- format
    def format_documents(self, texts: Any) -> list[str]:
        """Documents are embedded as they are (no instruction)."""
        return check_texts(texts)

    def format_queries(self, queries: Any, instruction: str | None = None) -> list[str]:
        """``Instruct: {instruction}\\nQuery:{query}`` for each query."""
        task = self.task(instruction)
        return [format_query(q, task) for q in check_texts(queries, "queries")]

    # ----------------------------------------------------------------- tokenize
    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids exactly as the model sees them (content cut to fit, one final end token)."""
        budget = self.max_length - 1
        content = self._content_ids(texts)
        if any(len(ids) > budget for ids in content):
            self.warn(
                "truncation",
                f"qwen3-rag: some inputs to {self.name!r} are longer than max_length="
                f"{self.max_length} tokens and were truncated from the end, as the official code "
                "does. Chunk long documents or raise max_length (the model allows 32768).",
            )
        return [ids[:budget] + [self.end_id] for ids in content]

    def tokenize_ids(self, sequences: Sequence[Sequence[int]]) -> list[list[int]]:
        """Token-id inputs as the model sees them: the same rule as :meth:`tokenize`.

        One final ``<|endoftext|>``, appended only if the sequence does not already end with it;
        the content before it is cut to ``max_length - 1`` tokens.
        """
        budget = self.max_length - 1
        end = self.end_id
        content = [list(ids[:-1]) if ids and ids[-1] == end else list(ids) for ids in sequences]
        if any(len(ids) > budget for ids in content):
            self.warn(
                "truncation",
                f"qwen3-rag: some token-id inputs to {self.name!r} are longer than "
                f"max_length={self.max_length} tokens and were truncated from the end.",
            )
        return [ids[:budget] + [end] for ids in content]

    def check_token_ids(self, sequences: Any, vocabulary: int | None) -> list[list[int]]:
        """Lists of ints, each id below ``vocabulary`` (checked before any work is queued)."""
        if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
            raise TypeError(f"token_ids must be a list of lists of ints, got {type(sequences).__name__}.")
        items = [list(ids) if isinstance(ids, (list, tuple)) else ids for ids in sequences]
        for index, ids in enumerate(items):
            if not isinstance(ids, list) or not all(type(i) is int for i in ids):
                raise TypeError(f"token_ids[{index}] must be a list of ints, got {ids!r:.60}.")
            limit = vocabulary if vocabulary is not None else 2**31
            if ids and (min(ids) < 0 or max(ids) >= limit):
                raise InvalidOptionError(
                    f"token_ids[{index}] holds an id outside 0..{limit - 1}, the token ids of "
                    f"{self.name!r}; tokenize with this model's tokenizer."
                )
        return items

    # ----------------------------------------------------------------- finish
    def finish(self, hidden: np.ndarray, count: int, dimensions: int) -> np.ndarray:
        """The first ``dimensions`` components (MRL), L2-normalised; float32 ``(count, dimensions)``."""
        if count == 0:
            return np.zeros((0, dimensions), dtype=np.float32)
        if not np.isfinite(hidden).all():
            bad = int((~np.isfinite(hidden).all(axis=1)).sum())
            raise self._non_finite(bad, count, "texts", "vector")
        sliced = np.ascontiguousarray(hidden[:, :dimensions], dtype=np.float32)
        norms = np.linalg.norm(sliced, axis=1, keepdims=True)
        return sliced / np.maximum(norms, 1e-12)


LongDocuments = Literal["truncate", "max_window"]
LONG_DOCUMENTS: tuple[LongDocuments, ...] = ("truncate", "max_window")
WINDOW_OVERLAP = 0.25
"""``max_window``: the share of a window's document tokens that the next window repeats."""
LOGIT_LIMIT = math.log(2.0**53)
"""Log-odds made from a probability are clamped to +-36.7: a float64 P(yes) cannot tell more."""


def log_odds(probabilities: Any) -> np.ndarray:
    """``log(p) - log(1 - p)`` in float64, clamped to +-:data:`LOGIT_LIMIT`.

    For servers that return P(yes) only (vLLM). Precision is what ``p`` carries: near 0 the
    log-odds are exact; near 1 they are quantised by the resolution of ``1 - p`` (a float32
    P(yes) saturates at 1.0 for log-odds above ~16.6, which then read as 36.7).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    eps = 2.0**-53
    with np.errstate(invalid="ignore"):
        clipped = np.clip(p, eps, 1.0 - eps)
        return np.where(np.isnan(p), np.nan, np.log(clipped) - np.log1p(-clipped))


@dataclass(frozen=True)
class RerankScores:
    """One call's results in the documents' order: P(yes) and its log-odds ``logit(yes) - logit(no)``."""

    scores: list[float]
    logits: list[float]


class RerankProcedure(_Procedure):
    """Qwen3-Reranker: format bodies, tokenize inside the chat template, finish (P(yes) scores)."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        name: str,
        max_length: int,
        instruction: str,
        warn: Warn,
        describe: str = "",
        long_documents: str = "truncate",
    ) -> None:
        super().__init__(tokenizer, name=name, instruction=instruction, warn=warn, describe=describe)
        if long_documents not in LONG_DOCUMENTS:
            raise InvalidOptionError(
                f"long_documents={long_documents!r}; valid: 'truncate' (the official behaviour: the "
                "document end is cut) or 'max_window' (overlapping windows, the best one counts)."
            )
        self.long_documents: LongDocuments = long_documents
        self.prefix: list[int] = tokenizer.encode(RERANKER_PREFIX, add_special_tokens=False)
        self.suffix: list[int] = tokenizer.encode(RERANKER_SUFFIX, add_special_tokens=False)
        fixed = len(self.prefix) + len(self.suffix)
        self.max_length = check_positive_int(
            max_length,
            "max_length",
            minimum=fixed + 1,
            hint=f"The chat template alone takes {fixed} tokens; the official default is 8192.",
        )
        for token in (RERANKER_YES_TOKEN, RERANKER_NO_TOKEN):
            token_id = tokenizer.convert_tokens_to_ids(token)
            if token_id is None or token_id == tokenizer.unk_token_id:
                raise InvalidOptionError(
                    f"The tokenizer of {name!r} has no single token {token!r}; it is not "
                    "a Qwen3-Reranker tokenizer."
                )

    @property
    def body_budget(self) -> int:
        """Body tokens that fit between the prefix and the suffix."""
        return self.max_length - len(self.prefix) - len(self.suffix)

    # ----------------------------------------------------------------- format
    def format(self, query: Any, documents: Any, instruction: str | None = None) -> list[str]:
        """One body per document: ``<Instruct>: ...\\n<Query>: ...\\n<Document>: ...``."""
        return self.prepare(query, documents, instruction).bodies

    def prepare(self, query: Any, documents: Any, instruction: str | None = None) -> RerankInput:
        """The checked call with its bodies formatted: what every backend is given."""
        task = self.task(instruction)
        text = check_text(query, "query")
        items = check_texts(documents, "documents")
        bodies = [format_rerank_body(text, d, task) for d in items]
        return RerankInput(self, text, items, task, bodies)

    # ----------------------------------------------------------------- tokenize
    def tokenize(self, bodies: Sequence[str]) -> list[list[int]]:
        """Token ids as the model sees them: whole prefix, body cut from its end, whole suffix."""
        budget = self.body_budget
        content = self._content_ids(bodies)
        if any(len(ids) > budget for ids in content):
            self._warn_truncation()
        return [self.prefix + ids[:budget] + self.suffix for ids in content]

    def fit_documents(self, query: str, documents: Sequence[str], instruction: str | None) -> list[str]:
        """Documents cut so each pair fits ``max_length``, for backends that take text.

        A server that applies the template to text cannot cut the body where :meth:`tokenize`
        does, so over-long documents are cut here: the kept body tokens are decoded and the
        document part taken back from them. Documents that fit are returned unchanged (exact);
        a cut one gives the same tokens as the local cut up to how the decoded text re-tokenizes
        at the cut.
        """
        task = self.task(instruction)
        bodies = [format_rerank_body(query, d, task) for d in documents]
        budget = self.body_budget
        head = format_rerank_body(query, "", task)
        fitted = list(documents)
        for index, ids in enumerate(self._content_ids(bodies)):
            if len(ids) <= budget:
                continue
            self._warn_truncation()
            kept = self.tokenizer.decode(ids[:budget], skip_special_tokens=False)
            if kept.startswith(head):
                fitted[index] = kept[len(head) :].rstrip("\ufffd")
            else:  # the cut fell inside the query: keep no document text, as the local cut would
                fitted[index] = ""
        return fitted

    # ----------------------------------------------------------------- long documents
    def _head_length(self, request: RerankInput, ids: Sequence[int]) -> int:
        """Body tokens before the document: the longest token prefix shared with the empty-document body.

        A BPE merge across ``<Document>: `` and the document can only shorten it, so the head
        tokens are always exactly the body's own.
        """
        head = self._content_ids([format_rerank_body(request.query, "", request.instruction)])[0]
        n = min(len(head), len(ids))
        i = 0
        while i < n and head[i] == ids[i]:
            i += 1
        return i

    def _window_spans(self, length: int, head: int) -> list[tuple[int, int]]:
        """``(start, end)`` document-token spans of the windows of a document of ``length`` tokens.

        The first window is the official cut (the body's first ``body_budget`` tokens); each next
        one starts :data:`WINDOW_OVERLAP` of a window before the previous end; the last ends at
        the document's end. Needs ``head < body_budget``.
        """
        room = self.body_budget - head
        if length <= room:
            return [(0, length)]
        stride = max(1, room - int(room * WINDOW_OVERLAP))
        spans = [(0, room)]
        while spans[-1][1] < length:
            start = spans[-1][0] + stride
            spans.append((start, min(start + room, length)))
        return spans

    def windows(self, request: RerankInput) -> tuple[list[list[int]], list[int]]:
        """Token ids of every window of every document, and the document each belongs to.

        With ``long_documents="truncate"`` (or a document that fits) a document is one window:
        exactly :meth:`tokenize`'s ids. Otherwise each window is prefix + head (instruction and
        query) + a span of the document's tokens + suffix, the whole template every time.
        """
        if self.long_documents == "truncate":
            return self.tokenize(request.bodies), list(range(len(request.bodies)))
        budget = self.body_budget
        sequences: list[list[int]] = []
        owners: list[int] = []
        for index, ids in enumerate(self._content_ids(request.bodies)):
            if len(ids) <= budget:
                sequences.append(self.prefix + ids + self.suffix)
                owners.append(index)
                continue
            head = self._head_length(request, ids)
            if head >= budget:  # the query leaves no room for a document: the official cut
                self._warn_truncation()
                sequences.append(self.prefix + ids[:budget] + self.suffix)
                owners.append(index)
                continue
            document = ids[head:]
            for start, end in self._window_spans(len(document), head):
                sequences.append(self.prefix + ids[:head] + document[start:end] + self.suffix)
                owners.append(index)
        return sequences, owners

    def window_documents(self, request: RerankInput) -> tuple[list[str], list[int]]:
        """:meth:`windows` as document texts, for backends that take text (decoded windows).

        A document that fits is sent unchanged; an over-long one as its windows' decoded document
        tokens (the first is :meth:`fit_documents`'s cut). The server re-tokenizes them, so a
        window can differ from the local one by how its decoded text re-tokenizes at its edges.
        """
        if self.long_documents == "truncate":
            fitted = self.fit_documents(request.query, request.documents, request.instruction)
            return fitted, list(range(len(fitted)))
        budget = self.body_budget
        texts: list[str] = []
        owners: list[int] = []
        for index, ids in enumerate(self._content_ids(request.bodies)):
            if len(ids) <= budget:
                texts.append(request.documents[index])
                owners.append(index)
                continue
            head = self._head_length(request, ids)
            if head >= budget:  # no room for a document: fit_documents below cuts it
                texts.append(request.documents[index])
                owners.append(index)
                continue
            document = ids[head:]
            for start, end in self._window_spans(len(document), head):
                text = self.tokenizer.decode(document[start:end], skip_special_tokens=False)
                texts.append(text.strip("\ufffd").lstrip())
                owners.append(index)
        # A decoded window can re-tokenize a little longer: cut it like any other document.
        return self.fit_documents(request.query, texts, request.instruction), owners

    @staticmethod
    def best_windows(raw: np.ndarray, owners: Sequence[int], count: int) -> np.ndarray:
        """Each document's ``[P(yes), log-odds]`` row of its best window (highest log-odds, the
        first on ties); a document with a non-finite window gets that row, so it is refused."""
        rows = np.asarray(raw, dtype=np.float64).reshape(len(owners), 2)
        if list(owners) == list(range(count)):
            return rows
        chosen: list[np.ndarray | None] = [None] * count
        for row, owner in zip(rows, owners, strict=True):
            current = chosen[owner]
            if current is None or (
                np.isfinite(current).all() and (not np.isfinite(row).all() or row[1] > current[1])
            ):
                chosen[owner] = row
        return np.stack([row for row in chosen if row is not None]) if count else rows

    def _warn_truncation(self) -> None:
        self.warn(
            "truncation",
            f"qwen3-rag: some query/document pairs for {self.name!r} are longer than "
            f"max_length={self.max_length} tokens; the document end was cut, as the official "
            "code does. Chunk long documents or raise max_length.",
        )

    # ----------------------------------------------------------------- finish
    def finish(self, raw: np.ndarray) -> RerankScores:
        """P(yes) and log-odds per document from a backend's ``(count, 2)`` rows; NaN/inf refused."""
        rows = np.asarray(raw, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(rows).all():
            bad = int((~np.isfinite(rows).all(axis=1)).sum())
            raise self._non_finite(bad, len(rows), "documents", "score")
        return RerankScores([float(p) for p in rows[:, 0]], [float(x) for x in rows[:, 1]])


@dataclass(frozen=True)
class RerankInput:
    """One checked rerank call: backends that run token ids use ``bodies`` (and the procedure's
    :meth:`~RerankProcedure.tokenize`); servers that take text use the parts."""

    procedure: RerankProcedure
    query: str
    documents: list[str]
    instruction: str
    bodies: list[str]

    @property
    def long_documents(self) -> LongDocuments:
        return self.procedure.long_documents
