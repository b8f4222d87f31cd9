"""``qwen3-rag serve``: the runtime over HTTP (needs ``pip install 'qwen3-rag[serve]'``).

``create_app`` and ``ServerConfig`` load FastAPI on first use and say how to install it when it
is missing (``import qwen3_rag.server`` itself needs nothing optional).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ._dependencies import require_serve_dependencies

        require_serve_dependencies()
        from ._app import create_app

        return create_app
    if name == "ServerConfig":
        from ._config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
