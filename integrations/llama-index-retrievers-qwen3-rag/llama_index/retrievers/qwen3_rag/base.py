"""``Qwen3RagRetriever``: the qwen3-rag two-stage pipeline as a LlamaIndex retriever."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilters

from qwen3_rag import (
    DEFAULT_RERANKER_MODEL,
    InvalidOptionError,
    ModelOptions,
    Qwen3Embedder,
    Qwen3Reranker,
    check_rerank_threshold,
)
from qwen3_rag.pipeline import QdrantStore, RetrievedChunk, TwoStageRetriever

Filters = Mapping[str, Any] | MetadataFilters


class Qwen3RagRetriever(BaseRetriever):
    """Dense (or hybrid) top-k from a qwen3-rag Qdrant collection, Qwen3 rerank to ``top_n``.

    Reads the collections that ``qwen3-rag ingest`` writes. Each node's text is the chunk;
    ``metadata`` holds ``source``, ``chunk_index``, where the chunk is in its document
    (``page_start`` and ``page_end``, ``None`` without pages; ``headings``, the section's heading
    path; ``citation``, e.g. ``"report.pdf, p. 12"``), ``retrieval_score`` (cosine, or the RRF
    score in hybrid mode) and ``relevance_logit`` (the reranker's log-odds; kept out of the LLM
    and embedding text); ``score`` is Qwen3-Reranker's P(yes) in [0, 1], best first.
    ``min_score`` drops nodes below that P(yes): fewer than ``top_n``, or none, is a valid answer.

    .. code-block:: python

        from llama_index.core.query_engine import RetrieverQueryEngine
        from llama_index.retrievers.qwen3_rag import Qwen3RagRetriever

        retriever = Qwen3RagRetriever(collection="qwen3_rag", top_k=50, top_n=5, hybrid=True)
        nodes = retriever.retrieve("How do I rotate the API key?")
        engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)

    The embedding model and its Matryoshka size default to those recorded in the collection
    (``TwoStageRetriever.from_collection``). ``embedding_model`` / ``reranker_model`` take a
    Hub id, a folder, or a loaded ``Qwen3Embedder`` / ``Qwen3Reranker``; with ``base_url`` the
    models run on a ``qwen3-rag serve`` (or vLLM) server. ``filters`` is a mapping
    (``{"source": "/abs/docs/ops.md"}``, a list value matching any) or ``MetadataFilters`` with
    ``==`` / ``in`` conditions joined by AND. ``pipeline`` takes a ready ``TwoStageRetriever``
    and then its own settings are used unless ``top_k``, ``top_n`` or ``hybrid`` are given here.
    """

    def __init__(
        self,
        *,
        pipeline: TwoStageRetriever | None = None,
        store: QdrantStore | None = None,
        collection: str = "qwen3_rag",
        qdrant_path: str | os.PathLike[str] | None = None,
        qdrant_url: str | None = None,
        qdrant_api_key: str | None = None,
        embedding_model: str | os.PathLike[str] | Qwen3Embedder | None = None,
        reranker_model: str | os.PathLike[str] | Qwen3Reranker = DEFAULT_RERANKER_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        base_url: str | None = None,
        reranker_base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        top_k: int | None = None,
        top_n: int | None = None,
        hybrid: bool | None = None,
        min_score: float | None = None,
        filters: Filters | None = None,
        instruction: str | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self._filters = _as_mapping(filters)
        # Per-call overrides: only what was given here, so a passed pipeline keeps its own settings.
        self._overrides: dict[str, Any] = {
            name: value
            for name, value in (
                ("top_k", top_k),
                ("top_n", top_n),
                ("hybrid", hybrid),
                ("min_score", check_rerank_threshold(min_score)),
            )
            if value is not None
        }
        if pipeline is not None:
            self._pipeline = pipeline
            return
        options: dict[str, Any] = {"instruction": instruction, **self._overrides}

        def model_options(url: str | None) -> ModelOptions:
            """How one model runs: here, or on the server at ``url`` (a device or dtype other than
            "auto" then goes along, so that it is refused, not ignored)."""
            if not url:
                return ModelOptions(device=device, dtype=dtype)
            return ModelOptions(device=device, dtype=dtype, base_url=url, api_key=api_key, timeout=timeout)

        self._pipeline = TwoStageRetriever.from_collection(
            store if store is not None else collection,
            qdrant_path=qdrant_path,
            qdrant_url=qdrant_url,
            qdrant_api_key=qdrant_api_key,
            embedding_model=embedding_model,
            reranker=reranker_model,
            embedding_options=model_options(base_url),
            reranker_options=model_options(reranker_base_url or base_url),
            **options,
        )

    @classmethod
    def class_name(cls) -> str:
        return "Qwen3RagRetriever"

    @property
    def two_stage(self) -> TwoStageRetriever:
        """The ``qwen3_rag.pipeline.TwoStageRetriever`` doing the work."""
        return self._pipeline

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        results = self._pipeline.retrieve(query_bundle.query_str, filters=self._filters, **self._overrides)
        return [_node(r) for r in results]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        results = await self._pipeline.aretrieve(
            query_bundle.query_str, filters=self._filters, **self._overrides
        )
        return [_node(r) for r in results]


# Where the chunk is in its document, by the names RetrievedChunk.to_dict() gives them.
_PLACE = ("source", "chunk_index", "page_start", "page_end", "headings", "citation")


def _node(result: RetrievedChunk) -> NodeWithScore:
    place = result.to_dict()
    metadata = {
        **result.metadata,  # the document's own metadata; the fields below win a name clash
        **{key: place[key] for key in _PLACE},
        "retrieval_score": result.retrieval_score,
        "relevance_logit": result.rerank_logit,
    }
    hidden = ["relevance_logit", "page_start", "page_end", "headings"]  # the citation says it for the LLM
    node = TextNode(
        id_=result.id,
        text=result.text,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
    )
    return NodeWithScore(node=node, score=result.rerank_score)


def _as_mapping(filters: Filters | None) -> dict[str, Any] | None:
    """A qwen3-rag filter mapping from a mapping or LlamaIndex ``MetadataFilters`` (``==``, ``in``, AND)."""
    if filters is None:
        return None
    if not isinstance(filters, MetadataFilters):
        return dict(filters)
    if filters.condition not in (None, FilterCondition.AND):
        raise InvalidOptionError(
            f"Qwen3RagRetriever supports MetadataFilters joined by AND, got {filters.condition}; "
            "pass a qdrant_client Filter through a TwoStageRetriever for anything else."
        )
    out: dict[str, Any] = {}
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            raise InvalidOptionError("Nested MetadataFilters are not supported by Qwen3RagRetriever.")
        if item.operator == FilterOperator.EQ:
            out[item.key] = item.value
        elif item.operator == FilterOperator.IN:
            out[item.key] = list(item.value) if isinstance(item.value, list | tuple) else [item.value]
        else:
            raise InvalidOptionError(
                f"Filter {item.key} {item.operator.value} {item.value!r} is not supported: use == or in."
            )
    return out
