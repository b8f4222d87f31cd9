"""What the two RAG chatbot examples share: store and model options, ingestion, the answer step.

qwen3-rag retrieves; the answer is the application's, and this is one to copy:

- ``--llm-url URL --llm-model NAME``: any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp
  server, LM Studio, OpenAI) over plain HTTP with httpx (which LangChain, LlamaIndex and
  qdrant-client already install); no SDK needed. ``$OPENAI_API_KEY`` if it wants one.
- ``--chat-model PATH``: a local transformers chat model (e.g. a Qwen3 instruct folder).
- neither: an extractive answer quoting the top reranked passages with their sources.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from qwen3_rag import ChatEndpointError, Qwen3RagError
from qwen3_rag.pipeline import Ingestor, QdrantStore, embedder_for_collection

SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Cite passages as [1], [2]. "
    "If the context does not contain the answer, say so."
)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ingest", nargs="+", metavar="PATH", help="ingest these files/folders first")
    parser.add_argument("--question", action="append", help="ask this (repeatable); else read stdin lines")
    parser.add_argument("--collection", default="qwen3_rag")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--qdrant-path", help="embedded Qdrant folder (default ./.qwen3-rag/qdrant)")
    where.add_argument("--qdrant-url", help="Qdrant server URL")
    parser.add_argument(
        "--embedding-model", help="default: the collection's model, else Qwen3-Embedding-0.6B"
    )
    parser.add_argument("--reranker-model", default="Qwen/Qwen3-Reranker-0.6B")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--top-n", type=int, default=3)
    parser.add_argument("--hybrid", action="store_true")


def open_store(args: argparse.Namespace) -> QdrantStore:
    if args.qdrant_url:
        return QdrantStore(args.collection, url=args.qdrant_url)
    return QdrantStore(args.collection, path=args.qdrant_path)


def search_options(args: argparse.Namespace) -> dict[str, Any]:
    """The search options both chatbots take from the command line as they are; each names the
    reranker and the number of results in its own framework's words."""
    return {
        "embedding_model": args.embedding_model,
        "device": args.device,
        "top_k": args.top_k,
        "hybrid": args.hybrid,
    }


def ingest_if_asked(args: argparse.Namespace, store: QdrantStore) -> None:
    if not args.ingest:
        return
    # The collection's own model and size (a --dimensions 256 collection stays 256), as the CLI does.
    embedder = embedder_for_collection(store, args.embedding_model, device=args.device)
    report = Ingestor(store, embedder).ingest(args.ingest)
    print(f"Ingested: {report.summary()}", file=sys.stderr)


def questions(args: argparse.Namespace) -> Iterator[str]:
    if args.question:
        yield from args.question
        return
    if sys.stdin.isatty():
        print("Ask a question (Ctrl-D to quit).", file=sys.stderr)
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def extractive_answer(question: str, passages: Sequence[Any], *, max_chars: int = 400) -> str:
    """The top passages quoted with their sources and rerank scores (no chat model needed)."""
    if not passages:
        return f"No passages found for: {question}"
    lines = [f"Top passages for: {question}"]
    for rank, passage in enumerate(passages, start=1):
        text = " ".join(str(_get(passage, "text")).split())
        text = text if len(text) <= max_chars else text[: max_chars - 1] + "…"
        score = float(_get(passage, "rerank_score"))
        lines.append(f'[{rank}] "{text}"\n    — {where(passage)} (rerank score {score:.3f})')
    return "\n".join(lines)


def build_messages(question: str, passages: Sequence[Any]) -> list[dict[str, str]]:
    """The instructions, then the question with the numbered passages as context."""
    context = "\n\n".join(
        f"[{i}] (source: {where(p)})\n{_get(p, 'text')}" for i, p in enumerate(passages, start=1)
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
    ]


class ChatModel(Protocol):
    def complete(self, messages: list[dict[str, str]]) -> str: ...


class OpenAICompatibleChat:
    """A chat model behind ``{base_url}/chat/completions`` (OpenAI's API, as vLLM and Ollama serve it)."""

    def __init__(self, base_url: str, model: str, *, timeout: float = 120.0) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        key = os.environ.get("OPENAI_API_KEY")
        self.client = httpx.Client(headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=timeout)

    def complete(self, messages: list[dict[str, str]]) -> str:
        body = {"model": self.model, "messages": messages, "temperature": 0.2}
        try:
            response = self.client.post(self.url, json=body)
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"])
        except (httpx.HTTPError, ValueError, LookupError, TypeError) as exc:
            status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
            message = f"The chat model at {self.url} failed: {type(exc).__name__}: {exc}"
            raise ChatEndpointError(message, url=self.url, status=status) from exc


class TransformersChat:
    """A local causal LM by path, prompted with its chat template (plain text if it has none)."""

    def __init__(self, path: str, *, max_new_tokens: int = 256, device: str = "cpu") -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModelForCausalLM.from_pretrained(path)
        self.model = model.to(device).eval()
        self.max_new_tokens = max_new_tokens
        self.device = device

    def complete(self, messages: list[dict[str, str]]) -> str:
        import torch

        if getattr(self.tokenizer, "chat_template", None):
            prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return str(self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))


def add_chat_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("chat model (optional; without one the answer is extractive)")
    group.add_argument("--llm-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    group.add_argument("--llm-model", default="qwen3", help="model name at --llm-url")
    group.add_argument("--chat-model", help="local transformers chat model folder")
    group.add_argument("--max-new-tokens", type=int, default=256)


def make_chat_model(args: argparse.Namespace) -> ChatModel | None:
    if args.llm_url:
        return OpenAICompatibleChat(args.llm_url, args.llm_model)
    if args.chat_model:
        import torch

        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        return TransformersChat(args.chat_model, max_new_tokens=args.max_new_tokens, device=device)
    return None


def answer(question: str, passages: Sequence[Any], chat: ChatModel | None) -> str:
    """The chat model's answer with its sources, or the extractive fallback.

    ``passages`` are objects or dicts with ``text``, ``source``, ``citation`` and ``rerank_score``.
    """
    if chat is None or not passages:
        return extractive_answer(question, passages)
    reply = chat.complete(build_messages(question, passages))
    sources = "\n".join(f"[{i}] {where(p)}" for i, p in enumerate(passages, start=1))
    return f"{reply.strip()}\n\nSources:\n{sources}"


def where(passage: Any) -> str:
    """What to cite: the file, then the page or section when the chunk has one.

    ``"/docs/report.pdf (report.pdf, p. 12)"``; just the path when the citation adds nothing.
    """
    cited = passage.get("citation") if isinstance(passage, dict) else getattr(passage, "citation", None)
    source = str(_get(passage, "source"))
    return source if not cited or cited == Path(source).name else f"{source} ({cited})"


def _get(passage: Any, name: str) -> Any:
    return passage[name] if isinstance(passage, dict) else getattr(passage, name)


def run_chatbot(argv: list[str] | None, description: str, build: Callable[[argparse.Namespace], Any]) -> int:
    """Parse the shared options, ``build(args)`` a question -> answer callable, answer each question."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_store_arguments(parser)
    add_chat_arguments(parser)
    args = parser.parse_args(argv)
    try:
        ask = build(args)
        for question in questions(args):
            print(ask(question), end="\n\n", flush=True)
    except Qwen3RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
