"""Turning retrieved chunks into an answer: an extractive fallback and an OpenAI-compatible chat.

The chat client is plain HTTP (urllib) against ``{base_url}/chat/completions``, which vLLM,
Ollama, llama.cpp's server, LM Studio and OpenAI all serve, so no SDK is required.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from .._errors import StoreConnectionError

SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Cite passages as [1], [2]. "
    "If the context does not contain the answer, say so."
)


def _field(chunk: Any, name: str) -> Any:
    return chunk[name] if isinstance(chunk, dict) else getattr(chunk, name)


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
        lines.append(f'[{rank}] "{text}"\n    — {_field(chunk, "source")} (rerank score {score:.3f})')
    return "\n".join(lines)


def build_messages(question: str, chunks: Sequence[Any]) -> list[dict[str, str]]:
    """Chat messages: the instructions, then the question with numbered context passages."""
    context = "\n\n".join(
        f"[{i}] (source: {_field(c, 'source')})\n{_field(c, 'text')}" for i, c in enumerate(chunks, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


class OpenAICompatibleChat:
    """A chat model behind an OpenAI-compatible ``/v1`` endpoint (vLLM, Ollama, OpenAI ...).

    >>> chat = OpenAICompatibleChat("http://localhost:11434/v1", model="qwen3:8b")
    >>> chat.complete([{"role": "user", "content": "Hi"}])
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
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.temperature = temperature

    def complete(self, messages: list[dict[str, str]]) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": self.temperature})
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body.encode("utf-8"), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.load(response)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise StoreConnectionError(f"Could not reach the chat model at {self.url}: {exc}") from exc
        return str(data["choices"][0]["message"]["content"]).strip()
