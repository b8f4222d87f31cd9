"""The FastAPI app: OpenAI-style embeddings, Cohere-style rerank, health, models, metrics.

``create_app(embedder=..., reranker=...)`` serves models already loaded in this process (either
may be ``None``; the caller keeps owning them); ``create_app(loader=...)`` answers at once
(``/health`` says 503 until ready), loads the models in a worker thread and closes them at
shutdown. Every request goes through the models' async methods, so concurrent requests share
forward passes in the runtime's micro-batcher and no forward pass runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ._config import ServerConfig
from ._drain import ShutdownMiddleware
from ._embeddings import create_embeddings
from ._errors import install_error_handlers
from ._guard import GuardMiddleware
from ._metrics import MetricsMiddleware, ServerMetrics
from ._rerank import rerank
from ._schemas import (
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    ModelList,
    RerankRequest,
    RerankResponse,
)
from ._state import Loader, ServerState
from ._tokenizer import add_tokenizer_route

logger = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 429, 503)
}


def create_app(
    embedder: Any = None,
    reranker: Any = None,
    *,
    config: ServerConfig | None = None,
    loader: Loader | None = None,
    on_load_failed: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """The server app over a :class:`Qwen3Embedder` and/or :class:`Qwen3Reranker`, or a loader."""
    config = config or ServerConfig()
    state = ServerState()
    if loader is None:
        if embedder is None and reranker is None:
            raise ValueError("create_app needs an embedder, a reranker, or a loader.")
        state.set_models(embedder, reranker)
    metrics = ServerMetrics(state.served)
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(_load(state, loader, on_load_failed)) if loader else None
        try:
            yield
        finally:
            state.begin_closing()
            if loading is not None:
                if not loading.done():
                    loading.cancel()
                await asyncio.to_thread(state.close_models)  # the app loaded them: it closes them

    # With an API key, no page describes the API to whoever asks: the docs are off (a browser
    # cannot send the key to them anyway); without one they are served as before.
    open_docs = config.api_key is None
    app = FastAPI(
        title="qwen3-rag",
        version=__version__,
        docs_url="/docs" if open_docs else None,
        redoc_url="/redoc" if open_docs else None,
        openapi_url="/openapi.json" if open_docs else None,
        summary="Qwen3-Embedding and Qwen3-Reranker over HTTP (OpenAI embeddings, Cohere-style rerank).",
        lifespan=lifespan,
    )
    app.state.server = state
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(GuardMiddleware, state=state, config=config)
    app.add_middleware(ShutdownMiddleware, state=state)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.post("/v1/embeddings", response_model=None, responses={200: {"model": EmbeddingResponse}, **_ERRORS})
    async def embeddings(body: EmbeddingRequest) -> Response:
        """Embed texts or token ids (OpenAI shape); ``input_type='query'`` adds the instruction."""
        return await create_embeddings(body, state.embedder, config)

    @app.post("/v1/rerank", response_model=None, responses={200: {"model": RerankResponse}, **_ERRORS})
    async def rerank_documents(body: RerankRequest) -> Response:
        """Score documents against a query, best first (Cohere/Jina/vLLM shape)."""
        return await rerank(body, state.reranker, config)

    @app.get("/v1/models", response_model=ModelList)
    async def models() -> dict[str, Any]:
        served = state.served()
        # The weights' digest reads a little of each weight file once (then cached): off the loop.
        fingerprints = await asyncio.to_thread(lambda: [getattr(m, "fingerprint", None) for _, m in served])
        return {
            "object": "list",
            "data": [
                {
                    "id": model.model_name,
                    "object": "model",
                    "created": created,
                    "owned_by": "qwen3-rag",
                    "kind": kind,
                    "dimensions": getattr(model, "dimensions", None),
                    "fingerprint": fingerprint,
                }
                for (kind, model), fingerprint in zip(served, fingerprints, strict=True)
            ],
        }

    add_tokenizer_route(app, state)

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 when ready; 503 while loading, closing, or after a failed load."""
        return JSONResponse(
            {"status": "ok" if state.ready else state.phase}, status_code=200 if state.ready else 503
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _load(
    state: ServerState, loader: Loader, on_load_failed: Callable[[BaseException], None] | None
) -> None:
    try:
        embedder, reranker = await asyncio.to_thread(loader)
    except Exception as exc:
        logger.error("qwen3-rag serve: loading the models failed: %s", exc)
        state.fail(exc)
        if on_load_failed is not None:
            on_load_failed(exc)
        return
    state.set_models(embedder, reranker)
    notes = [
        f"{model.kind}: {note}"
        for model in (embedder, reranker)
        if (note := getattr(getattr(model, "backend", None), "dtype_note", None))
    ]
    logger.info("qwen3-rag serve: models loaded; ready" + "".join(f"; {n}" for n in notes))
