"""``Qwen3Embedding``: a LlamaIndex embedding model computed by qwen3-rag's shared runtime."""

from __future__ import annotations

import os
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from qwen3_rag import DEFAULT_EMBEDDING_MODEL, DEFAULT_QUERY_INSTRUCTION, Qwen3Embedder


class Qwen3Embedding(BaseEmbedding):
    """Qwen3-Embedding vectors for LlamaIndex, exactly as the official procedure computes them.

    Query embeddings get the task instruction (``Instruct: ...\\nQuery:...``), text embeddings
    none; vectors are L2-normalised. Every call, sync or async, single or batch, is one
    request to the runtime's micro-batcher, which sorts by length and batches concurrent
    callers together. The model is loaded once per process and shared with every other
    qwen3-rag adapter that asks for it.

    Examples:
        .. code-block:: python

            from llama_index.core import Settings, VectorStoreIndex
            from llama_index.embeddings.qwen3_rag import Qwen3Embedding

            Settings.embed_model = Qwen3Embedding(model_name="Qwen/Qwen3-Embedding-0.6B")
            index = VectorStoreIndex.from_documents(documents)

        ``model_name`` may also be a loaded ``qwen3_rag.Qwen3Embedder``, to share it as it is.
        ``base_url="http://host:8000/v1"`` (and ``api_key``) computes on a model server
        (``qwen3-rag serve``, or vLLM) instead, with the same vectors.
    """

    model_name: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="Hugging Face id or local folder of the Qwen3-Embedding checkpoint.",
    )
    embed_batch_size: int = Field(
        default=256,
        description=(
            "Texts per request to the runtime; the runtime plans its own length-sorted forward "
            "passes under a token budget, so larger requests batch better."
        ),
        gt=0,
        le=2048,
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
    dimensions: int | None = Field(
        default=None,
        description="Matryoshka size of the vectors (32 up to the hidden size); None for all. "
        "After construction this holds the size actually used.",
    )
    max_length: int = Field(
        default=8192, description="Tokens per text, end token included; longer texts are cut from their end."
    )
    query_instruction: str = Field(
        default=DEFAULT_QUERY_INSTRUCTION,
        description="Task instruction put before every query; texts (documents) get none.",
    )

    base_url: str | None = Field(
        default=None,
        description='A model server\'s API root ("http://host:8000/v1": qwen3-rag serve or vLLM); '
        "None runs the model in this process.",
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

    _embedder: Qwen3Embedder = PrivateAttr()

    def __init__(
        self,
        model_name: str | os.PathLike[str] | Qwen3Embedder = DEFAULT_EMBEDDING_MODEL,
        **kwargs: Any,
    ) -> None:
        given: Qwen3Embedder | None = None
        if isinstance(model_name, Qwen3Embedder):
            given, kwargs["model_name"] = model_name, model_name.model_name
        else:
            kwargs["model_name"] = os.fspath(model_name)
        super().__init__(**kwargs)
        self._embedder = Qwen3Embedder.resolve(
            given if given is not None else self.model_name,
            self,
            owner="Qwen3Embedding",
            renamed={"query_instruction": "instruction"},
        )
        self.dimensions = self._embedder.dimensions
        self.max_length = self._embedder.max_length
        self.query_instruction = self._embedder.instruction

    @classmethod
    def class_name(cls) -> str:
        return "Qwen3Embedding"

    @property
    def embedder(self) -> Qwen3Embedder:
        """The ``qwen3_rag.Qwen3Embedder`` doing the work (its ``.model`` is the shared model)."""
        return self._embedder

    def _get_query_embedding(self, query: str) -> Embedding:
        vector: Embedding = self._embedder.embed_queries([query])[0].tolist()
        return vector

    async def _aget_query_embedding(self, query: str) -> Embedding:
        vector: Embedding = (await self._embedder.aembed_queries([query]))[0].tolist()
        return vector

    def _get_text_embedding(self, text: str) -> Embedding:
        vector: Embedding = self._embedder.embed_documents([text])[0].tolist()
        return vector

    async def _aget_text_embedding(self, text: str) -> Embedding:
        vector: Embedding = (await self._embedder.aembed_documents([text]))[0].tolist()
        return vector

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors: list[Embedding] = self._embedder.embed_documents(texts).tolist()
        return vectors

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors: list[Embedding] = (await self._embedder.aembed_documents(texts)).tolist()
        return vectors
