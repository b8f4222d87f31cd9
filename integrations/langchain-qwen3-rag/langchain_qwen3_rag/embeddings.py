"""``Qwen3Embeddings``: LangChain embeddings computed by qwen3-rag's shared local runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr

from qwen3_rag import DEFAULT_EMBEDDING_MODEL, DEFAULT_QUERY_INSTRUCTION, Qwen3Embedder


class Qwen3Embeddings(BaseModel, Embeddings):
    """Qwen3-Embedding vectors for LangChain, exactly as the official procedure computes them.

    Queries get the task instruction (``Instruct: ...\\nQuery:...``), documents none; vectors are
    L2-normalised, so the dot product is the cosine similarity. The model is loaded once per
    process and shared with every other qwen3-rag adapter (LangChain or LlamaIndex) that asks
    for it; building a second ``Qwen3Embeddings`` for a loaded model takes milliseconds.

    Setup:
        .. code-block:: bash

            pip install langchain-qwen3-rag

    Instantiate:
        .. code-block:: python

            from langchain_qwen3_rag import Qwen3Embeddings

            embeddings = Qwen3Embeddings(model="Qwen/Qwen3-Embedding-0.6B")  # or a local folder

    Embed:
        .. code-block:: python

            doc_vectors = embeddings.embed_documents(["Paris is the capital of France."])
            query_vector = embeddings.embed_query("What is the capital of France?")

    Async (native: requests go to the runtime's micro-batcher, concurrent calls are batched
    together and the event loop is never blocked by a forward pass):
        .. code-block:: python

            query_vector = await embeddings.aembed_query("What is the capital of France?")

    On a model server (``qwen3-rag serve``, or vLLM) instead of in this process; the Qwen3
    procedure still runs here, so the vectors are the same:
        .. code-block:: python

            embeddings = Qwen3Embeddings(
                model="Qwen/Qwen3-Embedding-0.6B", base_url="http://gpu-box:8000/v1", api_key="..."
            )

    Use an already-loaded runtime object instead of a model name:
        .. code-block:: python

            from qwen3_rag import Qwen3Embedder

            embedder = Qwen3Embedder.load("Qwen/Qwen3-Embedding-0.6B", dimensions=256)
            embeddings = Qwen3Embeddings(model=embedder)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", protected_namespaces=())

    model: str | Path | Qwen3Embedder = DEFAULT_EMBEDDING_MODEL
    """Hugging Face id or local folder of a Qwen3-Embedding checkpoint, or a loaded
    ``qwen3_rag.Qwen3Embedder`` to use as it is."""

    device: str | None = "auto"
    """``"auto"`` (CUDA, then Apple MPS, then CPU), or a torch device such as ``"cuda:1"``."""

    dtype: str | None = "auto"
    """``"auto"`` (bf16 on GPUs and on CPUs with native bf16, fp32 on other CPUs), ``"bfloat16"``,
    ``"float32"`` or ``"float16"``."""

    quantize: str | None = None
    """``"int8"``: the decoder's linear layers in dynamic int8 (CPU, float32; faster, less exact:
    qwen3-rag's docs/benchmarks.md). ``None``: no quantization."""

    dimensions: int | None = None
    """Matryoshka size of the vectors (32 up to the model's hidden size); ``None`` for all.
    After construction this holds the size actually used."""

    max_length: int = 8192
    """Tokens per text, end token included; longer texts are cut from their end."""

    query_instruction: str = DEFAULT_QUERY_INSTRUCTION
    """Task instruction put before every query (``embed_query``); documents get none."""

    base_url: str | None = None
    """A model server's API root (``"http://host:8000/v1"``: ``qwen3-rag serve`` or vLLM); ``None``
    runs the model in this process. The tokenizer is loaded here from ``model`` either way."""

    api_key: SecretStr | None = None
    """The server's API key (default ``$QWEN3_RAG_API_KEY``)."""

    timeout: float = 60.0
    """Seconds a call to the server may take, retries included."""

    _embedder: Qwen3Embedder = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        renamed = {"query_instruction": "instruction"}
        self._embedder = Qwen3Embedder.resolve(self.model, self, owner="Qwen3Embeddings", renamed=renamed)
        self.dimensions = self._embedder.dimensions
        self.max_length = self._embedder.max_length
        self.query_instruction = self._embedder.instruction

    @property
    def embedder(self) -> Qwen3Embedder:
        """The ``qwen3_rag.Qwen3Embedder`` doing the work (its ``.model`` is the shared model)."""
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (no instruction), one batched request to the runtime."""
        vectors: list[list[float]] = self._embedder.embed_documents(texts).tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed a query, with ``query_instruction`` put before it."""
        vector: list[float] = self._embedder.embed_queries([text])[0].tolist()
        return vector

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` through the runtime's micro-batcher."""
        vectors: list[list[float]] = (await self._embedder.aembed_documents(texts)).tolist()
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` through the runtime's micro-batcher."""
        vector: list[float] = (await self._embedder.aembed_queries([text]))[0].tolist()
        return vector
