"""``Qwen3RagRetriever``: the qwen3-rag two-stage pipeline as a LangChain retriever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from qwen3_rag import (
    DEFAULT_RERANKER_MODEL,
    InvalidOptionError,
    ModelOptions,
    Qwen3Embedder,
    Qwen3Reranker,
)
from qwen3_rag.pipeline import DEFAULT_COLLECTION, QdrantStore, RetrievedChunk, TwoStageRetriever

from .rerank import RerankThreshold

_LOAD_OPTIONS = frozenset({"device", "dtype"})


class Qwen3RagRetriever(BaseRetriever):
    """Dense (or hybrid) top-k from a qwen3-rag Qdrant collection, Qwen3 rerank to ``k``.

    Reads the collections that ``qwen3-rag ingest`` writes. Each document's ``page_content``
    is the chunk text; ``metadata`` holds ``source``, ``chunk_index``, ``id``, where the chunk is
    in its document (``page_start`` and ``page_end``, ``None`` without pages; ``headings``, the
    section's heading path; ``citation``, e.g. ``"report.pdf, p. 12"``),
    ``retrieval_score`` (cosine, or the RRF score in hybrid mode), ``relevance_score``
    (Qwen3-Reranker's P(yes) in [0, 1], the order of the results) and ``relevance_logit`` (the
    log-odds behind it). ``min_score`` drops results below that P(yes): fewer than ``k``, or
    none, is then a valid answer.

    Setup:
        .. code-block:: bash

            pip install langchain-qwen3-rag
            qwen3-rag ingest ./docs            # writes ./.qwen3-rag/qdrant, collection "qwen3_rag"

    Instantiate:
        .. code-block:: python

            from langchain_qwen3_rag import Qwen3RagRetriever

            retriever = Qwen3RagRetriever(k=5, top_k=50, hybrid=True)      # the default store
            retriever = Qwen3RagRetriever(collection="kb", qdrant_url="http://qdrant:6333")

    The embedding model and its dimensions default to the ones recorded in the collection
    (``TwoStageRetriever.from_collection``). A ready ``qwen3_rag.pipeline.TwoStageRetriever``
    can be passed as ``pipeline=`` instead: its own ``top_k``, ``top_n`` and ``hybrid`` then
    apply unless ``k``, ``top_k`` or ``hybrid`` are given here or per call.

    Use already-loaded runtime objects instead of model names (they are used as they are,
    nothing else is loaded):
        .. code-block:: python

            from qwen3_rag import Qwen3Embedder, Qwen3Reranker
            from qwen3_rag.pipeline import QdrantStore

            retriever = Qwen3RagRetriever(
                store=QdrantStore("qwen3_rag"),
                embedding_model=Qwen3Embedder.load("Qwen/Qwen3-Embedding-0.6B"),
                reranker_model=Qwen3Reranker.load("Qwen/Qwen3-Reranker-0.6B"),
            )

    With the models on a server (``qwen3-rag serve`` serves both; the same results):
        .. code-block:: python

            retriever = Qwen3RagRetriever(base_url="http://gpu-box:8000/v1", api_key="...")

    Invoke (per-call ``k``, ``top_k``, ``filters``, ``hybrid``, ``min_score`` override the fields):
        .. code-block:: python

            docs = retriever.invoke("How do I rotate the API key?", k=3, filters={"source": "/docs/ops.md"})
            docs = retriever.invoke("How do I rotate the API key?", min_score=0.5)  # maybe []
            docs = await retriever.ainvoke("How do I rotate the API key?")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", protected_namespaces=())

    pipeline: TwoStageRetriever | None = None
    """A ready two-stage retriever; when given, the store and model fields are not used."""

    store: QdrantStore | None = None
    """An open ``qwen3_rag.pipeline.QdrantStore``; otherwise one is opened from the fields below."""

    collection: str = DEFAULT_COLLECTION
    """Qdrant collection name."""

    qdrant_path: str | None = None
    """Embedded Qdrant folder or ``":memory:"``; default ``./.qwen3-rag/qdrant`` (or ``$QDRANT_URL``)."""

    qdrant_url: str | None = None
    """Qdrant server URL; the API key comes from ``qdrant_api_key`` or ``$QDRANT_API_KEY``."""

    qdrant_api_key: str | None = None
    """API key for ``qdrant_url``."""

    embedding_model: str | Path | Qwen3Embedder | None = None
    """Hub id or local folder, or a loaded ``qwen3_rag.Qwen3Embedder`` to use as it is (it must
    match the collection's model and dimensions); ``None`` uses the model recorded in the collection."""

    reranker_model: str | Path | Qwen3Reranker = DEFAULT_RERANKER_MODEL
    """Hub id or local folder of a Qwen3-Reranker checkpoint, or a loaded
    ``qwen3_rag.Qwen3Reranker`` to use as it is."""

    device: str | None = "auto"
    """``"auto"`` (CUDA, then Apple MPS, then CPU) or a torch device such as ``"cuda:1"``."""

    dtype: str | None = "auto"
    """``"auto"``, ``"bfloat16"``, ``"float32"`` or ``"float16"``."""

    base_url: str | None = None
    """A model server's API root (``"http://host:8000/v1"``) running both models; ``None`` runs
    them in this process."""

    reranker_base_url: str | None = None
    """The reranker's server when it is not ``base_url``'s."""

    api_key: SecretStr | None = None
    """The servers' API key (default ``$QWEN3_RAG_API_KEY``)."""

    timeout: float = 60.0
    """Seconds a call to a server may take, retries included."""

    k: int = Field(default=5, ge=1)
    """Documents returned after reranking (the pipeline's ``top_n``)."""

    top_k: int = Field(default=50, ge=1)
    """Candidates fetched from Qdrant and reranked."""

    hybrid: bool = False
    """Fuse dense and sparse (Qwen tokenizer terms, Qdrant IDF) results by reciprocal rank fusion."""

    min_score: RerankThreshold = None
    """Drop reranked documents whose P(yes) is below this threshold in [0, 1] (``None``: keep all)."""

    filters: dict[str, Any] | None = None
    """Payload filters, e.g. ``{"source": "/docs/ops.md"}`` (a list value matches any of them)."""

    instruction: str | None = None
    """The task instruction for the query embedding and the reranker (``None``: web search);
    presets are in ``qwen3_rag.TASK_INSTRUCTIONS``."""

    _pipeline: TwoStageRetriever = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pipeline = self.pipeline if self.pipeline is not None else self._build()

    def _build(self) -> TwoStageRetriever:
        clash = sorted(_LOAD_OPTIONS & self.model_fields_set)
        embedder, reranker = self.embedding_model, self.reranker_model
        if clash and isinstance(embedder, Qwen3Embedder) and isinstance(reranker, Qwen3Reranker):
            raise InvalidOptionError(
                f"Qwen3RagRetriever got a loaded Qwen3Embedder and Qwen3Reranker and {', '.join(clash)}: "
                "loaded models already have their device and dtype. Drop those options, or pass "
                "model names instead."
            )
        return TwoStageRetriever.from_collection(
            self.store if self.store is not None else self.collection,
            qdrant_path=self.qdrant_path,
            qdrant_url=self.qdrant_url,
            qdrant_api_key=self.qdrant_api_key,
            embedding_model=embedder,
            reranker=reranker,
            embedding_options=self._model_options(self.base_url),
            reranker_options=self._model_options(self.reranker_base_url or self.base_url),
            top_k=self.top_k,
            top_n=self.k,
            hybrid=self.hybrid,
            instruction=self.instruction,
            min_score=self.min_score,
        )

    def _model_options(self, url: str | None) -> ModelOptions:
        """How one model runs: here on ``device``/``dtype``, or on the server at ``url`` (where a
        ``device`` or ``dtype`` the user set goes along, so that it is refused, not ignored)."""
        if url is None:
            return ModelOptions(device=self.device, dtype=self.dtype)
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        given = {name: getattr(self, name) for name in _LOAD_OPTIONS & self.model_fields_set}
        return ModelOptions(base_url=url, api_key=key, timeout=self.timeout, **given)

    @property
    def two_stage(self) -> TwoStageRetriever:
        """The ``qwen3_rag.pipeline.TwoStageRetriever`` doing the work."""
        return self._pipeline

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Per-call settings: given here or per call; otherwise the pipeline's own apply."""
        options: dict[str, Any] = {"filters": kwargs.get("filters", self.filters)}
        for field, name in (
            ("k", "top_n"),
            ("top_k", "top_k"),
            ("hybrid", "hybrid"),
            ("min_score", "min_score"),
        ):
            if field in kwargs:
                options[name] = kwargs[field]
            elif field in self.model_fields_set:
                options[name] = getattr(self, field)
        return options

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return [_to_document(r) for r in self._pipeline.retrieve(query, **self._options(kwargs))]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        results = await self._pipeline.aretrieve(query, **self._options(kwargs))
        return [_to_document(r) for r in results]


# Where the chunk is in its document, by the names RetrievedChunk.to_dict() gives them.
_PLACE = ("source", "chunk_index", "page_start", "page_end", "headings", "citation")


def _to_document(result: RetrievedChunk) -> Document:
    place = result.to_dict()
    return Document(
        id=result.id,
        page_content=result.text,
        metadata={
            **result.metadata,  # the document's own metadata; the fields below win a name clash
            **{key: place[key] for key in _PLACE},
            "id": result.id,
            "retrieval_score": result.retrieval_score,
            "relevance_score": result.rerank_score,
            "relevance_logit": result.rerank_logit,
        },
    )
