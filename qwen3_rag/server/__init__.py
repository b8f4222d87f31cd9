"""``qwen3-rag serve``: the runtime over HTTP (needs ``pip install 'qwen3-rag[serve]'``).

``add_serve_parser`` and ``run_serve`` import nothing optional; ``create_app`` and
``ServerConfig`` load FastAPI on first use and say how to install it when it is missing.
"""

from __future__ import annotations

from typing import Any

from .command import add_serve_parser, run_serve

__all__ = ["ServerConfig", "add_serve_parser", "create_app", "run_serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .dependencies import require_serve_dependencies

        require_serve_dependencies()
        from .app import create_app

        return create_app
    if name == "ServerConfig":
        from .config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
