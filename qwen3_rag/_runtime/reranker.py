"""Qwen3-Reranker: the official yes/no procedure (docs/reference.md, "Reranker"), local or remote.

Procedure (:class:`~.procedure.RerankProcedure`): ids = prefix + body + suffix, where prefix and
suffix are the fixed chat-template pieces and body is
``<Instruct>: ...\\n<Query>: ...\\n<Document>: ...`` tokenized without special tokens and cut from
its end so the whole fits ``max_length``; the backend gives softmax([logit("no"),
logit("yes")])[1] at the last position, and the log-odds ``logit("yes") - logit("no")`` from the
same forward pass (:meth:`Qwen3Reranker.score_logits`, :meth:`Qwen3Reranker.rank`).

``long_documents="max_window"`` (an extension; ``"truncate"``, the official cut, is the default)
scores an over-long document as overlapping windows, each in the whole template, and keeps the
best window's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .._prompts import DEFAULT_QUERY_INSTRUCTION
from .._ranking import RankedDocument, best_first, check_rerank_threshold
from .backend import Backend
from .model import Qwen3Model
from .procedure import RerankProcedure, RerankScores
from .registry import LoadedModel
from .validation import check_positive_int

DEFAULT_RERANKER_MODEL = "Qwen/Qwen3-Reranker-0.6B"
DEFAULT_MAX_LENGTH = 8192


class Qwen3Reranker(Qwen3Model):
    """Qwen3-Reranker relevance scores in [0, 1], exactly as the official code computes them.

    >>> rr = Qwen3Reranker.load("Qwen/Qwen3-Reranker-0.6B")
    >>> rr.score("capital of France?", ["Paris is the capital.", "Bananas are yellow."])
    [0.98..., 0.00...]
    >>> rr.rank("capital of France?", ["Bananas are yellow.", "Paris is the capital."], min_score=0.5)
    [RankedDocument(index=1, score=0.98..., logit=4.1...)]

    ``Qwen3Reranker.load(model, base_url="http://host:8000/v1")`` scores on a server instead.
    """

    default_model: ClassVar[str] = DEFAULT_RERANKER_MODEL
    kind: ClassVar = "reranker"
    procedure_type: ClassVar = RerankProcedure
    _options: ClassVar[tuple[str, ...]] = ("max_length", "instruction", "long_documents")
    procedure: RerankProcedure

    def __init__(
        self,
        backend: Backend | LoadedModel,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        instruction: str = DEFAULT_QUERY_INSTRUCTION,
        long_documents: str = "truncate",
    ) -> None:
        super().__init__(
            backend, max_length=max_length, instruction=instruction, long_documents=long_documents
        )

    def with_options(  # type: ignore[override]
        self,
        *,
        max_length: int | None = None,
        instruction: str | None = None,
        long_documents: str | None = None,
    ) -> Qwen3Reranker:
        """A view over the same model with some options changed (``None`` keeps one)."""
        return super().with_options(
            max_length=max_length, instruction=instruction, long_documents=long_documents
        )

    @property
    def long_documents(self) -> str:
        """``"truncate"`` (official) or ``"max_window"``: what happens to an over-long document."""
        return self.procedure.long_documents

    def encode_ids(self, bodies: Sequence[str]) -> list[list[int]]:
        """Token ids as the model sees them: whole prefix, body cut from its end, whole suffix."""
        return self.procedure.tokenize(bodies)

    def _bodies(self, query: str, documents: Sequence[str], instruction: str | None) -> list[str]:
        return self.procedure.format(query, documents, instruction)

    # ----------------------------------------------------------------- scoring
    def scores(self, query: str, documents: Sequence[str], instruction: str | None = None) -> RerankScores:
        """P(yes) and log-odds for each document, in the documents' order, from one forward pass."""
        return self.procedure.finish(
            self.backend.score(self.procedure.prepare(query, documents, instruction))
        )

    async def ascores(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> RerankScores:
        request = self.procedure.prepare(query, documents, instruction)
        return self.procedure.finish(await self.backend.ascore(request))

    def score(self, query: str, documents: Sequence[str], instruction: str | None = None) -> list[float]:
        """P(yes) for each document against ``query``, in the documents' order."""
        return self.scores(query, documents, instruction).scores

    async def ascore(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> list[float]:
        return (await self.ascores(query, documents, instruction)).scores

    def score_logits(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> list[float]:
        """The raw log-odds ``logit("yes") - logit("no")`` per document (P(yes) is their sigmoid).

        Unbounded, so they keep order and spacing where P(yes) saturates at 0 or 1 (bf16): use
        them to calibrate. Remote: the server's (``qwen3-rag serve`` returns them) or derived from
        P(yes) (vLLM returns probabilities only: see :func:`~.procedure.log_odds` for the precision).
        """
        return self.scores(query, documents, instruction).logits

    async def ascore_logits(
        self, query: str, documents: Sequence[str], instruction: str | None = None
    ) -> list[float]:
        return (await self.ascores(query, documents, instruction)).logits

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        min_score: float | None = None,
        instruction: str | None = None,
    ) -> list[RankedDocument]:
        """``RankedDocument(index, score, logit)`` per kept document, best first.

        ``top_n`` keeps the best N (``None``: all); ``min_score`` drops documents whose P(yes) is
        below it (a threshold in [0, 1]; for a log-odds threshold ``t`` pass ``1 / (1 + exp(-t))``).
        An empty list is a valid answer. Equal scores keep the documents' order.
        """
        top_n, min_score = _rank_options(top_n, min_score)
        return _ranked(self.scores(query, documents, instruction), top_n, min_score)

    async def arank(
        self,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        min_score: float | None = None,
        instruction: str | None = None,
    ) -> list[RankedDocument]:
        """:meth:`rank` without blocking the event loop."""
        top_n, min_score = _rank_options(top_n, min_score)
        return _ranked(await self.ascores(query, documents, instruction), top_n, min_score)

    def _repr_options(self) -> str:
        return ", long_documents='max_window'" if self.long_documents == "max_window" else ""


def _rank_options(top_n: Any, min_score: Any) -> tuple[int | None, float | None]:
    return (None if top_n is None else check_positive_int(top_n, "top_n")), check_rerank_threshold(min_score)


def _ranked(scores: RerankScores, top_n: int | None, min_score: float | None) -> list[RankedDocument]:
    return [
        RankedDocument(index, score, scores.logits[index])
        for index, score in best_first(scores.scores, top_n, min_score)
    ]
