"""``GET /v1/tokenizer?model=ID``: the tokenizer files of a served model, for remote clients.

Clients tokenize themselves (the Qwen3 procedure decides the token ids they send), so a client
pointed at this server with a Hub name needs the tokenizer files; taking them from here means no
Hub access and the very files the served weights came with (see
:mod:`qwen3_rag._runtime.served_tokenizer`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from .._runtime.served_tokenizer import tokenizer_bundle
from ._errors import ApiError
from ._state import ServerState, model_aliases


def add_tokenizer_route(app: FastAPI, state: ServerState) -> None:
    @app.get("/v1/tokenizer")
    async def tokenizer(model: str) -> dict[str, Any]:
        """The tokenizer files of a served model (``model``: its id in ``/v1/models``) and their digest."""
        for _, served in state.served():
            if model in model_aliases(served.model_name) and not served.remote:  # as /v1/embeddings
                folder = served.runtime.folder
                return await asyncio.to_thread(tokenizer_bundle, folder, served.model_name)
        listed = ", ".join(repr(m.model_name) for _, m in state.served()) or "none yet"
        raise ApiError(
            404,
            f"No served model {model!r}; this server serves {listed}.",
            code="model_not_found",
            param="model",
        )
