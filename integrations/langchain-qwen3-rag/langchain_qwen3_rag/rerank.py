"""``Qwen3Rerank``: a LangChain document compressor scoring with Qwen3-Reranker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import AfterValidator, ConfigDict, Field, PrivateAttr, SecretStr

from qwen3_rag import DEFAULT_RERANKER_MODEL, Qwen3Reranker, RankedDocument, check_rerank_threshold

RerankThreshold = Annotated[float | None, AfterValidator(check_rerank_threshold)]
"""A ``min_score`` field: ``None`` or a P(yes) threshold in [0, 1], checked when set."""


class Qwen3Rerank(BaseDocumentCompressor):
    """Rerank documents with Qwen3-Reranker: copies sorted by relevance, best first.

    Each returned document is a copy of the input with ``metadata["relevance_score"]`` set to
    the official Qwen3-Reranker score P(yes) in [0, 1] and ``metadata["relevance_logit"]`` to the
    log-odds ``logit(yes) - logit(no)`` behind it; only the ``top_n`` best are kept, and with
    ``min_score`` only those scoring at least that (possibly none). The model is loaded once per
    process and shared with every other qwen3-rag adapter.

    Setup:
        .. code-block:: bash

            pip install langchain-qwen3-rag

    Two-stage retrieval (vector search, then rerank):
        .. code-block:: python

            from langchain_classic.retrievers import ContextualCompressionRetriever
            from langchain_qwen3_rag import Qwen3Rerank

            retriever = ContextualCompressionRetriever(
                base_retriever=vector_store.as_retriever(search_kwargs={"k": 20}),
                base_compressor=Qwen3Rerank(model="Qwen/Qwen3-Reranker-0.6B", top_n=3),
            )
            docs = retriever.invoke("What is the capital of France?")
            docs[0].metadata["relevance_score"]

    Async (``acompress_documents``, and so ``ainvoke`` on the retriever) goes natively
    through the runtime's micro-batcher. ``model`` may also be a loaded
    ``qwen3_rag.Qwen3Reranker``. ``base_url="http://host:8000/v1"`` scores on a model server
    (``qwen3-rag serve``, or vLLM) with the same results.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", protected_namespaces=())

    model: str | Path | Qwen3Reranker = DEFAULT_RERANKER_MODEL
    """Hugging Face id or local folder of a Qwen3-Reranker checkpoint, or a loaded
    ``qwen3_rag.Qwen3Reranker`` to use as it is."""

    top_n: int | None = Field(default=3, ge=1)
    """How many documents to return, best first; ``None`` returns them all."""

    min_score: RerankThreshold = None
    """Drop documents whose P(yes) is below this threshold in [0, 1]; ``None`` keeps them all.
    An empty result is a valid answer (nothing relevant was retrieved)."""

    long_documents: str = "truncate"
    """``"truncate"`` (official: a pair longer than ``max_length`` loses the document end) or
    ``"max_window"`` (overlapping windows of the document, the best window's score counts)."""

    instruction: str | None = None
    """Task instruction for the reranker; ``None`` uses the model's default (web search)."""

    device: str | None = "auto"
    """``"auto"`` (CUDA, then Apple MPS, then CPU), or a torch device such as ``"cuda:1"``."""

    dtype: str | None = "auto"
    """``"auto"`` (bf16 on GPUs and on CPUs with native bf16, fp32 on other CPUs), ``"bfloat16"``,
    ``"float32"`` or ``"float16"``."""

    quantize: str | None = None
    """``"int8"``: the decoder's linear layers in dynamic int8 (CPU, float32; faster, less exact:
    qwen3-rag's docs/benchmarks.md). ``None``: no quantization."""

    max_length: int = 8192
    """Tokens per query/document pair; the document end is cut when a pair is longer."""

    base_url: str | None = None
    """A model server's API root (``"http://host:8000/v1"``); ``None`` runs the model here."""

    api_key: SecretStr | None = None
    """The server's API key (default ``$QWEN3_RAG_API_KEY``)."""

    timeout: float = 60.0
    """Seconds a call to the server may take, retries included."""

    _reranker: Qwen3Reranker = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        per_call = {"instruction": None}  # given to each rank() call, not the model's default
        self._reranker = Qwen3Reranker.resolve(self.model, self, owner="Qwen3Rerank", renamed=per_call)
        self.max_length = self._reranker.max_length
        self.long_documents = self._reranker.long_documents

    @property
    def reranker(self) -> Qwen3Reranker:
        """The ``qwen3_rag.Qwen3Reranker`` doing the work (its ``.model`` is the shared model)."""
        return self._reranker

    def _ranked(self, documents: Sequence[Document], ranked: list[RankedDocument]) -> list[Document]:
        return [
            documents[r.index].model_copy(
                update={
                    "metadata": {
                        **documents[r.index].metadata,
                        "relevance_score": r.score,
                        "relevance_logit": r.logit,
                    }
                }
            )
            for r in ranked
        ]

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Score every document against ``query``; return the best copies, best first.

        At most ``top_n``, and none below ``min_score``.
        """
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        ranked = self._reranker.rank(
            query, texts, top_n=self.top_n, min_score=self.min_score, instruction=self.instruction
        )
        return self._ranked(documents, ranked)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents` through the runtime's micro-batcher."""
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        ranked = await self._reranker.arank(
            query, texts, top_n=self.top_n, min_score=self.min_score, instruction=self.instruction
        )
        return self._ranked(documents, ranked)
