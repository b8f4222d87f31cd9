"""``Qwen3Rerank``: a LlamaIndex node postprocessor scoring with Qwen3-Reranker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_validator
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from qwen3_rag import DEFAULT_RERANKER_MODEL, Qwen3Reranker, RankedDocument, check_rerank_threshold

dispatcher = get_dispatcher(__name__)


class Qwen3Rerank(BaseNodePostprocessor):
    """Rerank retrieved nodes with Qwen3-Reranker, exactly as the official procedure scores them.

    Sets each node's ``score`` to the Qwen3-Reranker relevance P(yes) in [0, 1] (and
    ``node.metadata["relevance_logit"]`` to the log-odds ``logit(yes) - logit(no)`` behind it, kept
    out of the LLM and embedding text) and returns the ``top_n`` best, best first; with
    ``min_score`` only nodes scoring at least that (possibly none). ``keep_retrieval_score=True``
    keeps the retriever's score in ``node.metadata["retrieval_score"]``. Emits LlamaIndex's
    ``ReRankStartEvent`` / ``ReRankEndEvent``. The async path (``apostprocess_nodes``, used by
    ``aquery``) awaits the runtime's micro-batcher: the event loop never runs a forward pass. The
    model is loaded once per process and shared with every other qwen3-rag adapter.
    ``long_documents="max_window"`` scores over-long nodes by their best window.

    Examples:
        .. code-block:: python

            from llama_index.postprocessor.qwen3_rag_rerank import Qwen3Rerank

            rerank = Qwen3Rerank(model="Qwen/Qwen3-Reranker-0.6B", top_n=3)
            engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank])

        ``model`` may also be a loaded ``qwen3_rag.Qwen3Reranker``, to share it as it is.
        ``base_url="http://host:8000/v1"`` (and ``api_key``) scores on a model server
        (``qwen3-rag serve``, or vLLM) instead, with the same scores.
    """

    model: str = Field(
        default=DEFAULT_RERANKER_MODEL,
        description="Hugging Face id or local folder of the Qwen3-Reranker checkpoint.",
    )
    top_n: int = Field(default=3, ge=1, description="Number of nodes to return, best first.")
    min_score: float | None = Field(
        default=None,
        description="Drop nodes whose P(yes) is below this threshold in [0, 1]; None keeps them all. "
        "An empty result is a valid answer.",
    )
    long_documents: str = Field(
        default="truncate",
        description='"truncate" (official: a pair longer than max_length loses the document end) or '
        '"max_window" (overlapping windows of the document; the best window\'s score counts).',
    )
    instruction: str | None = Field(
        default=None, description="Task instruction for the reranker; None uses the model's default."
    )
    keep_retrieval_score: bool = Field(
        default=False, description='Keep the retriever\'s score in node.metadata["retrieval_score"].'
    )
    device: str | None = Field(
        default="auto",
        description='"auto" (CUDA, then Apple MPS, then CPU) or a torch device such as "cuda:1".',
    )
    dtype: str | None = Field(
        default="auto",
        description=(
            '"auto" (bf16 on GPUs and on CPUs with native bf16, fp32 on other CPUs), "bfloat16", '
            '"float32" or "float16".'
        ),
    )
    quantize: str | None = Field(
        default=None,
        description=(
            '"int8": the decoder\'s linear layers in dynamic int8 (CPU, float32; faster, less exact: '
            "qwen3-rag's docs/benchmarks.md). None: no quantization."
        ),
    )
    max_length: int = Field(
        default=8192, description="Tokens per query/document pair; the document end is cut when longer."
    )

    base_url: str | None = Field(
        default=None,
        description='A model server\'s API root ("http://host:8000/v1"); None runs the model here.',
    )
    api_key: str | None = Field(
        default=None,
        description="The server's API key (default $QWEN3_RAG_API_KEY).",
        repr=False,
        exclude=True,
    )
    timeout: float = Field(
        default=60.0, description="Seconds a call to the server may take, retries included."
    )

    _reranker: Qwen3Reranker = PrivateAttr()

    @field_validator("min_score")
    @classmethod
    def _check_min_score(cls, value: float | None) -> float | None:
        return check_rerank_threshold(value)

    def __init__(
        self,
        model: str | os.PathLike[str] | Qwen3Reranker = DEFAULT_RERANKER_MODEL,
        **kwargs: Any,
    ) -> None:
        given: Qwen3Reranker | None = None
        if isinstance(model, Qwen3Reranker):
            given, kwargs["model"] = model, model.model_name
        else:
            kwargs["model"] = os.fspath(model)
        super().__init__(**kwargs)
        per_call = {"instruction": None}  # given to each rank() call, not the model's default
        self._reranker = Qwen3Reranker.resolve(
            given if given is not None else self.model, self, owner="Qwen3Rerank", renamed=per_call
        )
        self.max_length = self._reranker.max_length
        self.long_documents = self._reranker.long_documents

    @classmethod
    def class_name(cls) -> str:
        return "Qwen3Rerank"

    @property
    def reranker(self) -> Qwen3Reranker:
        """The ``qwen3_rag.Qwen3Reranker`` doing the work (its ``.model`` is the shared model)."""
        return self._reranker

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _require_query(query_bundle: QueryBundle | None) -> QueryBundle:
        if query_bundle is None:
            raise ValueError(
                "Qwen3Rerank needs the query to rerank against: call "
                "postprocess_nodes(nodes, query_str=...) or pass query_bundle=QueryBundle(...) "
                "(query engines pass it for you)."
            )
        return query_bundle

    @contextmanager
    def _rerank_events(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle
    ) -> Iterator[list[NodeWithScore]]:
        """Emit the start/end events around a rerank; the body fills the yielded result list."""
        dispatcher.event(
            ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=self.top_n, model_name=self.model)
        )
        result: list[NodeWithScore] = []
        with self.callback_manager.event(
            CBEventType.RERANKING,
            payload={
                EventPayload.NODES: nodes,
                EventPayload.MODEL_NAME: self.model,
                EventPayload.QUERY_STR: query_bundle.query_str,
                EventPayload.TOP_K: self.top_n,
            },
        ) as event:
            yield result
            event.on_end(payload={EventPayload.NODES: result})
        dispatcher.event(ReRankEndEvent(nodes=result))

    def _apply(self, nodes: list[NodeWithScore], ranked: list[RankedDocument]) -> list[NodeWithScore]:
        kept = []
        for r in ranked:
            node = nodes[r.index]
            if self.keep_retrieval_score:
                node.node.metadata["retrieval_score"] = node.score
            _set_logit(node, r.logit)
            node.score = r.score
            kept.append(node)
        return kept

    def _rank_request(self, query: QueryBundle, nodes: list[NodeWithScore]) -> dict[str, Any]:
        """The ``rank``/``arank`` arguments: the query, the nodes' texts and this postprocessor's options."""
        return {
            "query": query.query_str,
            "documents": [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes],
            "top_n": self.top_n,
            "min_score": self.min_score,
            "instruction": self.instruction,
        }

    # ----------------------------------------------------------------- hooks
    # The sync and async hooks differ only in the rank call: events, query check and results are shared.
    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query = self._require_query(query_bundle)
        with self._rerank_events(nodes, query) as result:
            ranked = self._reranker.rank(**self._rank_request(query, nodes)) if nodes else []
            result.extend(self._apply(nodes, ranked))
        return result

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query = self._require_query(query_bundle)
        with self._rerank_events(nodes, query) as result:
            ranked = await self._reranker.arank(**self._rank_request(query, nodes)) if nodes else []
            result.extend(self._apply(nodes, ranked))
        return result


def _set_logit(node: NodeWithScore, logit: float) -> None:
    """``metadata["relevance_logit"]``, kept out of the text the LLM and the embedder read."""
    node.node.metadata["relevance_logit"] = logit
    for excluded in (node.node.excluded_llm_metadata_keys, node.node.excluded_embed_metadata_keys):
        if "relevance_logit" not in excluded:
            excluded.append("relevance_logit")
