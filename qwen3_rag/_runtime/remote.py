"""The remote backend: the forward pass on a server, the Qwen3 procedure here.

The tokenizer is loaded on this machine, so what is sent is decided by the procedure:

- embeddings (``qwen3-rag serve`` and vLLM alike): ``POST {base_url}/embeddings`` with the
  token ids the procedure made (each ending in exactly one ``<|endoftext|>``), ``dimensions``
  when a Matryoshka size below the served one is wanted, ``encoding_format="base64"``; the
  answer goes through the procedure's finish (slice, L2-normalise) like a local hidden state;
- reranking, ``api="qwen3-rag"``: ``POST {base_url}/rerank`` with the query, the documents and
  the instruction; the server applies the same procedure;
- reranking, ``api="vllm"`` (Qwen3-Reranker served as a sequence classifier with vLLM's
  ``is_original_qwen3_reranker`` overrides): ``POST {base_url}/rerank`` with the chat template
  applied here, the query as ``prefix + <Instruct>/<Query> part`` and each document as
  ``<Document> part + suffix``.

Documents too long for ``max_length`` are cut here (:meth:`RerankProcedure.fit_documents`), or
with ``long_documents="max_window"`` sent as their windows' texts
(:meth:`RerankProcedure.window_documents`), each document keeping its best window. Scores come
back as P(yes) with their log-odds: ``qwen3-rag serve`` returns both (``relevance_logit``, an
extension field); for vLLM, which returns probabilities only, the log-odds are derived
(:func:`~.procedure.log_odds`: clamped, and coarse where a float32 P(yes) nears 1).
Large calls are split into requests of at most :data:`MAX_INPUTS_PER_REQUEST` inputs and
:data:`MAX_REQUEST_BYTES` bytes (under ``qwen3-rag serve``'s defaults of 2048 and 4 MiB); a
413 splits further.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._environment import QWEN3_RAG_API_KEY
from .._errors import InvalidOptionError, ModelLoadError, RemoteBackendError, WrongModelKindError
from .._prompts import (
    RERANKER_PREFIX,
    RERANKER_SUFFIX,
    format_rerank_document_part,
    format_rerank_query_part,
)
from .batcher import Encoder
from .checkpoints import TOKENIZER_FILES, ModelKind, resolve_checkpoint
from .http import HttpClient
from .options import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, ModelOptions
from .procedure import RerankInput, log_odds
from .served_tokenizer import fetch_tokenizer
from .transformers_names import transformers_names
from .warn_once import warn_once

logger = logging.getLogger(__name__)

MAX_INPUTS_PER_REQUEST = 256
MAX_REQUEST_BYTES = 2 * 1024 * 1024
PARALLEL_REQUESTS = 4
"""Requests of one split async call in flight at once."""
APIS = ("auto", "qwen3-rag", "vllm")


def check_local_options(*, device: Any, dtype: Any, quantize: Any = None) -> None:
    """``device``/``dtype``/``quantize`` choose local hardware: with ``base_url`` they stay unset."""
    for name, value in (("device", device), ("dtype", dtype), ("quantize", quantize)):
        if value not in ("auto", None):
            raise InvalidOptionError(
                f"{name}={value!r} applies to a model run on this machine; with base_url the server "
                f"chooses its {name} (qwen3-rag serve --{name} ...). Leave {name} out."
            )


_TOKENIZERS: dict[str, Any] = {}
_TOKENIZER_LOCK = threading.Lock()


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer (a Hub id downloads the tokenizer files only), cached per name."""
    with _TOKENIZER_LOCK:
        if model in _TOKENIZERS:
            return _TOKENIZERS[model]
    # The generic fast tokenizer reads tokenizer.json exactly as AutoTokenizer's Qwen2Tokenizer
    # does (same ids, specials, padding side: tests/runtime/test_real_vocab.py), and unlike
    # AutoTokenizer it does not import torch (through transformers' configuration classes), so a
    # process that only talks to a server stays small.
    (fast,) = transformers_names(
        "PreTrainedTokenizerFast", module="transformers.tokenization_utils_tokenizers"
    )

    folder = resolve_checkpoint(model, files=TOKENIZER_FILES)  # one try at the Hub, not minutes
    try:
        try:
            tokenizer = fast.from_pretrained(folder)
        except (OSError, ValueError):  # no tokenizer.json: let transformers pick the class
            (auto,) = transformers_names("AutoTokenizer")
            tokenizer = auto.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Model {model!r}: its tokenizer could not be loaded ({type(exc).__name__}: {exc}). A "
            "remote model still tokenizes here (that is how the Qwen3 procedure stays exact): pass "
            "the Hub id (only the tokenizer files are fetched) or a folder holding tokenizer.json "
            "and tokenizer_config.json."
        ) from exc
    with _TOKENIZER_LOCK:
        return _TOKENIZERS.setdefault(model, tokenizer)


def served_models(base_url: str, *, api_key: str | None = None) -> dict[str, str]:
    """The model id a server serves for each kind (``{"embedding": ..., "reranker": ...}``).

    Kinds the server does not say (vLLM lists models without one) are left out.
    """
    key = api_key or QWEN3_RAG_API_KEY.get()
    http = HttpClient(base_url, api_key=key, timeout=DEFAULT_TIMEOUT_S, max_retries=DEFAULT_MAX_RETRIES)
    try:
        answer = http.request("GET", "models")
    finally:
        http.close()
    cards = answer.get("data") if isinstance(answer, dict) else None
    found: dict[str, str] = {}
    for card in cards if isinstance(cards, list) else []:
        if isinstance(card, dict) and card.get("kind") in ("embedding", "reranker") and card.get("id"):
            found.setdefault(str(card["kind"]), str(card["id"]))
    return found


def _tokenizer_for(name: str, http: HttpClient, card: dict[str, Any] | None) -> Any:
    """A local folder's tokenizer; else the one a qwen3-rag server hands out for the model it
    serves (no Hub access); else the Hub's (one try)."""
    if card is not None and not Path(name).expanduser().is_dir():
        key = f"{http.base_url}\x00{card['id']}"
        with _TOKENIZER_LOCK:
            if key in _TOKENIZERS:
                return _TOKENIZERS[key]
        served = fetch_tokenizer(http, str(card["id"]))
        if served is not None:
            with _TOKENIZER_LOCK:
                return _TOKENIZERS.setdefault(key, served)
    return load_tokenizer(name)


_BACKENDS: dict[tuple[Any, ...], RemoteBackend] = {}
_BACKENDS_LOCK = threading.Lock()


class RemoteBackend:
    """A model served over HTTP; every view of it shares the connection pools."""

    remote = True

    def __init__(
        self,
        name: str,
        *,
        kind: ModelKind,
        tokenizer: Any,
        http: HttpClient,
        served_model: str,
        api: str,
        hidden_size: int,
        fingerprint: str | None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.tokenizer = tokenizer
        self.http = http
        self.served_model = served_model
        self.api = api
        self.hidden_size = hidden_size
        self.fingerprint = fingerprint
        self.vocabulary: int | None = None  # the server checks ids against its own table
        self.max_inputs = MAX_INPUTS_PER_REQUEST
        self.max_request_bytes = MAX_REQUEST_BYTES
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def describe(self) -> str:
        return f"at {self.base_url}"

    @classmethod
    def connect(cls, model: str | os.PathLike[str], kind: ModelKind, options: ModelOptions) -> RemoteBackend:
        """The shared backend for this model on the server at ``options.base_url``: tokenizer
        here, ``/models`` asked once."""
        check_local_options(device=options.device, dtype=options.dtype, quantize=options.quantize)
        name = os.fspath(model)
        api, served_model = options.api, options.served_model
        if api not in APIS:
            raise InvalidOptionError(f"api={api!r}; valid: {', '.join(map(repr, APIS))}.")
        base_url = options.base_url
        assert base_url is not None  # open_backend loads a model without one here
        api_key = options.api_key
        if api_key is None:
            api_key = QWEN3_RAG_API_KEY.get()
        timeout, max_retries = options.timeout, options.max_retries
        key = (
            name,
            kind,
            base_url.rstrip("/") if isinstance(base_url, str) else base_url,
            api_key,
            timeout,
            max_retries,
            served_model,
            api,
        )
        with _BACKENDS_LOCK:
            found = _BACKENDS.get(key)
        if found is not None:
            return found
        http = HttpClient(base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        card = _find_card(http, name, kind, served_model)
        owner = str(card.get("owned_by", "")) if card else ""
        tokenizer = _tokenizer_for(name, http, card if owner == "qwen3-rag" else None)
        resolved_api = api if api != "auto" else ("qwen3-rag" if owner == "qwen3-rag" else "vllm")
        backend = cls(
            name,
            kind=kind,
            tokenizer=tokenizer,
            http=http,
            served_model=served_model or (str(card["id"]) if card else os.path.basename(name.rstrip("/"))),
            api=resolved_api,
            hidden_size=0,
            fingerprint=str(card["fingerprint"]) if card and card.get("fingerprint") else None,
        )
        if kind == "embedding":
            dims = card.get("dimensions") if card else None
            backend.hidden_size = int(dims) if isinstance(dims, int) and dims > 0 else backend._probe_size()
        with _BACKENDS_LOCK:
            backend._key = key
            return _BACKENDS.setdefault(key, backend)

    def warn_once(self, topic: str, message: str) -> None:
        warn_once(logger, self._warned, self._warn_lock, topic, message)

    def close(self) -> None:
        with _BACKENDS_LOCK:
            if self._key is not None and _BACKENDS.get(self._key) is self:
                del _BACKENDS[self._key]
        self.http.close()

    # ----------------------------------------------------------------- embeddings
    def _probe_size(self) -> int:
        end = self.tokenizer.convert_tokens_to_ids("<|endoftext|>")
        return int(self._embed_request([[int(end)]], None).shape[1])

    def _embedding_payload(self, ids: list[list[int]], dimensions: int | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.served_model, "input": ids, "encoding_format": "base64"}
        if dimensions is not None and dimensions < self.hidden_size:
            payload["dimensions"] = dimensions
        return payload

    def _expected_width(self, dimensions: int | None) -> int | None:
        """The row size the server must answer with (``None`` while probing the served size)."""
        if not self.hidden_size:
            return None
        return dimensions if dimensions is not None and dimensions < self.hidden_size else self.hidden_size

    def _embed_request(self, ids: list[list[int]], dimensions: int | None) -> np.ndarray:
        answer = self.http.request("POST", "embeddings", self._embedding_payload(ids, dimensions))
        return _vectors(answer, len(ids), self.http.url("embeddings"), self._expected_width(dimensions))

    async def _aembed_request(self, ids: list[list[int]], dimensions: int | None) -> np.ndarray:
        answer = await self.http.arequest("POST", "embeddings", self._embedding_payload(ids, dimensions))
        return _vectors(answer, len(ids), self.http.url("embeddings"), self._expected_width(dimensions))

    def embed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray:
        if not items:
            return np.empty((0,), dtype=np.float32)
        ids = encode(items)
        send = lambda chunk: self._embed_request(chunk, dimensions)  # noqa: E731
        return np.concatenate([self._with_413_split(chunk, send) for chunk in self._split(ids)])

    async def aembed(self, items: Sequence[Any], encode: Encoder, dimensions: int) -> np.ndarray:
        if not items:
            return np.empty((0,), dtype=np.float32)
        ids = await asyncio.to_thread(encode, items)  # tokenizing is CPU work: off the event loop
        return await self._agather(self._split(ids), lambda chunk: self._aembed_request(chunk, dimensions))

    # ----------------------------------------------------------------- reranking
    def _rerank_payload(self, request: RerankInput, documents: list[str]) -> dict[str, Any]:
        if self.api == "qwen3-rag":
            return {
                "model": self.served_model,
                "query": request.query,
                "documents": documents,
                "instruction": request.instruction,
            }
        query = RERANKER_PREFIX + format_rerank_query_part(request.query, request.instruction)
        return {
            "model": self.served_model,
            "query": query,
            "documents": [format_rerank_document_part(d) + RERANKER_SUFFIX for d in documents],
            "top_n": len(documents),
        }

    def _documents(self, request: RerankInput) -> tuple[list[str], list[int]]:
        return request.procedure.window_documents(request)

    def _score_request(self, request: RerankInput, documents: list[str]) -> np.ndarray:
        answer = self.http.request("POST", "rerank", self._rerank_payload(request, documents))
        return _scores(answer, len(documents), self.http.url("rerank"))

    async def _ascore_request(self, request: RerankInput, documents: list[str]) -> np.ndarray:
        answer = await self.http.arequest("POST", "rerank", self._rerank_payload(request, documents))
        return _scores(answer, len(documents), self.http.url("rerank"))

    def score(self, request: RerankInput) -> np.ndarray:
        """``[P(yes), log-odds]`` per document."""
        if not request.documents:
            return np.empty((0, 2), dtype=np.float64)
        documents, owners = self._documents(request)
        send = lambda chunk: self._score_request(request, chunk)  # noqa: E731
        raw = np.concatenate([self._with_413_split(chunk, send) for chunk in self._split(documents)])
        return request.procedure.best_windows(raw, owners, len(request.documents))

    async def ascore(self, request: RerankInput) -> np.ndarray:
        if not request.documents:
            return np.empty((0, 2), dtype=np.float64)
        documents, owners = await asyncio.to_thread(self._documents, request)
        raw = await self._agather(self._split(documents), lambda chunk: self._ascore_request(request, chunk))
        return request.procedure.best_windows(raw, owners, len(request.documents))

    # ----------------------------------------------------------------- splitting
    def _split(self, items: list[Any]) -> list[list[Any]]:
        """Consecutive chunks of at most ``max_inputs`` items and ``max_request_bytes`` of JSON."""
        chunks: list[list[Any]] = []
        current: list[Any] = []
        size = 0
        for item in items:
            item_size = len(json.dumps(item, ensure_ascii=False).encode()) + 1
            if current and (len(current) >= self.max_inputs or size + item_size > self.max_request_bytes):
                chunks.append(current)
                current, size = [], 0
            current.append(item)
            size += item_size
        if current:
            chunks.append(current)
        return chunks

    def _with_413_split(self, chunk: list[Any], send: Callable[[list[Any]], np.ndarray]) -> np.ndarray:
        try:
            return send(chunk)
        except RemoteBackendError as exc:
            if exc.status != 413 or len(chunk) == 1:
                raise
        half = len(chunk) // 2  # the server takes fewer inputs or bytes than we sent: halve
        return np.concatenate(
            [self._with_413_split(chunk[:half], send), self._with_413_split(chunk[half:], send)]
        )

    async def _agather(self, chunks: list[list[Any]], send: Callable[[list[Any]], Any]) -> np.ndarray:
        gate = asyncio.Semaphore(PARALLEL_REQUESTS)

        async def one(chunk: list[Any]) -> np.ndarray:
            try:
                async with gate:
                    result: np.ndarray = await send(chunk)
                    return result
            except RemoteBackendError as exc:
                if exc.status != 413 or len(chunk) == 1:
                    raise
            half = len(chunk) // 2
            return np.concatenate([await one(chunk[:half]), await one(chunk[half:])])

        parts = await asyncio.gather(*(one(chunk) for chunk in chunks))
        return np.concatenate(parts)

    def __repr__(self) -> str:
        return f"base_url={self.base_url!r}"


def _find_card(
    http: HttpClient, name: str, kind: ModelKind, served_model: str | None
) -> dict[str, Any] | None:
    """The server's ``/models`` entry for this model; ``None`` when the server lists none."""
    try:
        answer = http.request("GET", "models")
    except RemoteBackendError as exc:
        if exc.status == 404:  # a server without /models: trust the given names
            return None
        raise
    cards = [
        c for c in (answer.get("data") if isinstance(answer, dict) else None) or [] if isinstance(c, dict)
    ]
    if not cards:
        return None
    wanted = {served_model} if served_model else _aliases(name)
    found = [c for c in cards if _aliases(str(c.get("id", ""))) & wanted]
    if not found:
        listed = ", ".join(repr(c.get("id")) for c in cards)
        hint = "" if served_model else f", or pass served_model= with the name it serves {name!r} under"
        raise InvalidOptionError(
            f"The server at {http.base_url} serves {listed}, not {served_model or name!r}. Pass the "
            f"model it serves (its tokenizer is loaded here){hint}."
        )
    of_kind = [c for c in found if c.get("kind") in (None, kind)]
    if not of_kind:
        other = found[0].get("kind")
        loader = "Qwen3Embedder" if other == "embedding" else "Qwen3Reranker"
        raise WrongModelKindError(
            f"{found[0].get('id')!r} at {http.base_url} is served as a {other} model, not a {kind} "
            f"model; use {loader}.load(..., base_url=...) for it.",
            expected=kind,
            found=other,
        )
    return of_kind[0]


def _aliases(name: str) -> set[str]:
    stripped = name.rstrip("/\\")
    return {n.lower() for n in (name, stripped, os.path.basename(stripped)) if n}


def _vectors(answer: Any, count: int, url: str, width: int | None = None) -> np.ndarray:
    """``count`` finite float32 rows of ``width`` (when known) in input order, or the error saying why not.

    A server's answer is checked before anything uses it: the count, each row's size, finiteness,
    the indexes (each input once): a wrong answer must fail here, not become a silently wrong
    vector in a collection.
    """
    try:
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise TypeError("no 'data' list")
        data = answer["data"]
        indexes: list[Any] = [d.get("index") if isinstance(d, dict) else None for d in data]
        if any(type(i) is not int for i in indexes):  # bool and float are not indexes either
            raise TypeError("an item without an integer 'index'")
        if sorted(indexes) != list(range(count)):
            raise ValueError(f"{len(data)} vectors (indexes {_sample(indexes)}) for {count} inputs")
        rows: list[np.ndarray] = [np.empty(0)] * count
        for item in data:
            embedding = item.get("embedding")
            if isinstance(embedding, str):
                row = np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
            elif isinstance(embedding, list) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in embedding
            ):
                row = np.asarray(embedding, dtype=np.float32)
            else:
                raise TypeError(f"item {item['index']}: 'embedding' is not a list of numbers or base64")
            rows[item["index"]] = row
        sizes = {row.shape[0] for row in rows}
        expected = {width} if width else {rows[0].shape[0]} if rows else set()
        if count and (sizes != expected or 0 in sizes):
            want = f"{width}" if width else "one size > 0"
            raise ValueError(f"vectors of {sorted(sizes)} dimensions, expected {want}")
        vectors = np.stack(rows).astype(np.float32) if rows else np.empty((0, width or 0), np.float32)
        if not np.isfinite(vectors).all():
            raise ValueError("vectors holding NaN or infinity")
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteBackendError(
            f"{url} answered 200 but not with valid OpenAI embeddings ({type(exc).__name__}: {exc}). Is "
            "the server the model it says it is (GET /models), and is it healthy?",
            url=url,
            status=200,
        ) from exc
    return vectors


def _sample(values: list[Any]) -> str:
    return repr(values[:8])[:-1] + ", ...]" if len(values) > 8 else repr(values)


def _scores(answer: Any, count: int, url: str) -> np.ndarray:
    """``[P(yes), log-odds]`` rows in input order: the server's ``relevance_logit`` where it sends
    one (``qwen3-rag serve``), else the log-odds of ``relevance_score`` (vLLM). Checked: one
    result per document, each P(yes) a finite number in [0, 1], each logit finite."""
    try:
        results = answer["results"] if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise TypeError("no 'results' list")
        scores = np.full((count, 2), np.nan, dtype=np.float64)
        seen = np.zeros(count, dtype=bool)
        for result in results:
            index = result["index"]
            if type(index) is not int or not 0 <= index < count:
                raise IndexError(f"index {index!r} for {count} documents")
            probability = _number(result["relevance_score"], "relevance_score")
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"relevance_score {probability!r} is not a probability in [0, 1]")
            logit = result.get("relevance_logit")
            scores[index] = (
                probability,
                _number(logit, "relevance_logit") if logit is not None else log_odds(probability),
            )
            seen[index] = True
        if len(results) != count or not seen.all() or np.isnan(scores).any():
            raise ValueError(f"{len(results)} scores for {count} documents")
        return scores
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise RemoteBackendError(
            f"{url} answered 200 but not with valid rerank results ({type(exc).__name__}: {exc}).",
            url=url,
            status=200,
        ) from exc


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} {value!r:.40} is not a number")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} is {number}")
    return number
