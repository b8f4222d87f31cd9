"""Answers for the ``qwen3-rag`` command (``query``, ``chat --llm-url``); not part of the library API.

Answer generation belongs to the application, not to the retrieval pipeline: the example chatbots
carry their own (``examples/chatbot_common.py``). Here the command gets its extractive answer (the
top passages with their sources) and a chat model behind an OpenAI-compatible
``{base_url}/chat/completions`` (vLLM, Ollama, llama.cpp's server, LM Studio, OpenAI), called with
httpx, which qdrant-client (needed to open a store) already brings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._environment import OPENAI_API_KEY
from .._errors import ChatEndpointError, InvalidOptionError, MissingDependencyError

SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Cite passages as [1], [2]. "
    "If the context does not contain the answer, say so."
)


def _field(chunk: Any, name: str) -> Any:
    return chunk[name] if isinstance(chunk, dict) else getattr(chunk, name)


def cite(chunk: Any) -> str:
    """The chunk's source with its pages and section: ``/docs/report.pdf, p. 12``."""
    from ..pipeline._provenance import PROVENANCE_FIELDS, citation

    fields = chunk if isinstance(chunk, dict) else {k: getattr(chunk, k, None) for k in PROVENANCE_FIELDS}
    return citation(str(_field(chunk, "source")), fields, full_path=True)


def extractive_answer(question: str, chunks: Sequence[Any], *, max_chars: int = 400) -> str:
    """Quote the top passages with their sources (used when no chat model is configured)."""
    if not chunks:
        return f"No passages found for: {question}"
    lines = [f"Top passages for: {question}"]
    for rank, chunk in enumerate(chunks, start=1):
        text = " ".join(str(_field(chunk, "text")).split())
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "…"
        score = float(_field(chunk, "rerank_score"))
        lines.append(f'[{rank}] "{text}"\n    — {cite(chunk)} (rerank score {score:.3f})')
    return "\n".join(lines)


def build_messages(question: str, chunks: Sequence[Any]) -> list[dict[str, str]]:
    """Chat messages: the instructions, then the question with numbered context passages."""
    context = "\n\n".join(
        f"[{i}] (source: {cite(c)})\n{_field(c, 'text')}" for i, c in enumerate(chunks, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


class OpenAICompatibleChat:
    """A chat model behind an OpenAI-compatible ``/v1`` endpoint (vLLM, Ollama, OpenAI ...).

    >>> chat = OpenAICompatibleChat("http://localhost:11434/v1", model="qwen3:8b")
    >>> chat.complete([{"role": "user", "content": "Hi"}])

    Failures (unreachable, timed out, an error status, an answer that is not a chat completion)
    are :class:`~qwen3_rag.ChatEndpointError`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        temperature: float = 0.2,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise InvalidOptionError(
                f"--llm-url (base_url) {base_url!r}: it must be an http:// or https:// URL, the part before "
                "/chat/completions, e.g. http://localhost:11434/v1."
            )
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else OPENAI_API_KEY.get()
        self.timeout = timeout
        self.temperature = temperature

    def complete(self, messages: list[dict[str, str]]) -> str:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - qdrant-client and the extras bring it
            raise MissingDependencyError(
                "A chat model (--llm-url) needs httpx: pip install 'qwen3-rag[remote]'."
            ) from exc
        body = {"model": self.model, "messages": messages, "temperature": self.temperature}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ChatEndpointError(
                f"Could not reach the chat model at {self.url}: {type(exc).__name__}: {exc}. Check "
                "--llm-url and that the server is running.",
                url=self.url,
            ) from exc
        if not response.is_success:
            raise ChatEndpointError(
                f"The chat model at {self.url} answered HTTP {response.status_code}: "
                f"{' '.join(response.text.split())[:300]}. Check --llm-url (the part before "
                f"/chat/completions) and --llm-model ({self.model!r}), and $OPENAI_API_KEY if it "
                "needs a key.",
                url=self.url,
                status=response.status_code,
            )
        try:
            return str(response.json()["choices"][0]["message"]["content"]).strip()
        except (ValueError, LookupError, TypeError) as exc:
            raise ChatEndpointError(
                f"The chat model at {self.url} answered something that is not a chat completion "
                f"({' '.join(response.text.split())[:200]!r}); --llm-url must be an OpenAI-compatible "
                "endpoint.",
                url=self.url,
                status=response.status_code,
            ) from exc
