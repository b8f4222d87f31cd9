"""Request and response bodies: OpenAI ``/v1/embeddings`` and Cohere/Jina/vLLM ``/v1/rerank``.

Requests are validated strictly (no string-to-number coercion) and their errors name the field;
unknown fields (``user``, provider extras) are ignored, as OpenAI-compatible servers do.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

_INPUT_SHAPES = "a string, a list of strings, a list of token ids, or a list of token-id lists"


def _token_ids(value: Any, where: str) -> list[int]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of token ids, got {type(value).__name__}")
    for position, token in enumerate(value):
        if type(token) is not int or token < 0:
            raise ValueError(f"{where}[{position}] is {token!r:.40}, not a token id (an integer >= 0)")
    return value


def check_text(value: str, where: str) -> str:
    """``value``, or ``ValueError`` naming where it holds a lone surrogate (JSON's ``\\udcff``
    escapes can spell one; it is not text, and no tokenizer takes it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{where} holds U+{ord(value[exc.start]):04X} at character {exc.start}, a lone surrogate "
            "that is not text; send valid Unicode (UTF-8) text"
        ) from None
    return value


def _text(value: str | None, info: ValidationInfo) -> str | None:
    return value if value is None else check_text(value, "it")


def normalise_input(value: Any) -> list[str] | list[list[int]]:
    """``input`` as a list of texts or a list of token-id lists; ``ValueError`` names the bad item."""
    if isinstance(value, str):
        return [check_text(value, "it")]
    if not isinstance(value, list):
        raise ValueError(f"must be {_INPUT_SHAPES}; got {type(value).__name__}")
    if not value:
        raise ValueError(f"must not be empty; send {_INPUT_SHAPES}")
    first = value[0]
    if isinstance(first, str):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(f"item {index} is {type(item).__name__}, but the list holds strings")
            check_text(item, f"item {index}")
        return list(value)
    if type(first) is int:  # one input given as token ids
        return [_token_ids(value, "the token-id list")]
    if isinstance(first, list):
        return [_token_ids(item, f"item {index}") for index, item in enumerate(value)]
    raise ValueError(f"item 0 is {type(first).__name__}; input must be {_INPUT_SHAPES}")


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``: the OpenAI request, plus the Qwen3 query/document distinction."""

    model_config = ConfigDict(extra="ignore")

    input: Any = Field(description=f"What to embed: {_INPUT_SHAPES}.")
    model: StrictStr | None = Field(None, description="The served model's name or basename; optional.")
    dimensions: StrictInt | None = Field(
        None, description="Matryoshka size: 32 up to the served size (default the served size)."
    )
    encoding_format: Literal["float", "base64"] | None = Field(
        None, description="'float' (default) or 'base64' (little-endian float32 bytes)."
    )
    input_type: Literal["query", "document"] | None = Field(
        None, description="'document' (default: embedded as is) or 'query' (the instruction is put first)."
    )
    instruction: StrictStr | None = Field(
        None, description="Task instruction for queries (default: the web-search instruction)."
    )

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: Any) -> list[str] | list[list[int]]:
        return normalise_input(value)

    _check_texts = field_validator("model", "instruction")(_text)

    @property
    def is_tokens(self) -> bool:
        return bool(self.input) and isinstance(self.input[0], list)


def _document_text(value: Any, index: int) -> str:
    if isinstance(value, str):
        return check_text(value, f"item {index}")
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return check_text(str(value["text"]), f"item {index}")
    raise ValueError(f"item {index} is {type(value).__name__}; each document is a string or {{'text': str}}")


class RerankRequest(BaseModel):
    """``POST /v1/rerank``: the Cohere/Jina/vLLM request, plus the task ``instruction``."""

    model_config = ConfigDict(extra="ignore")

    query: StrictStr = Field(description="The search query.")
    documents: list[Any] = Field(description="Texts to score: strings or {'text': str} objects.")
    model: StrictStr | None = Field(None, description="The served model's name or basename; optional.")
    top_n: StrictInt | None = Field(
        None, ge=1, description="Keep the best N (default all); larger than the list means all."
    )
    return_documents: StrictBool = Field(False, description="Include each document's text in the results.")
    instruction: StrictStr | None = Field(None, description="Task instruction (default: web search).")

    @field_validator("documents")
    @classmethod
    def _check_documents(cls, value: list[Any]) -> list[str]:
        return [_document_text(item, index) for index, item in enumerate(value)]

    _check_texts = field_validator("query", "model", "instruction")(_text)


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class RerankDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    relevance_logit: float | None = None
    """Extension: the log-odds logit("yes") - logit("no") behind ``relevance_score``."""
    document: RerankDocument | None = None


class RerankUsage(BaseModel):
    total_tokens: int


class RerankResponse(BaseModel):
    id: str
    model: str
    results: list[RerankResult]
    usage: RerankUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qwen3-rag"
    kind: Literal["embedding", "reranker"]
    dimensions: int | None = None
    fingerprint: str | None = None
    """Digest of the weights (``Qwen3Embedder.fingerprint``): remote clients record it with collections."""


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
