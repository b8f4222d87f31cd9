"""``qwen3-rag serve``: the runtime over HTTP (needs ``pip install 'qwen3-rag[serve]'``).

``create_app`` and ``ServerConfig`` load FastAPI on first use and say how to install it when it
is missing (``import qwen3_rag.server`` itself needs nothing optional).
"""

from __future__ import annotations

from typing import Any

from .._deprecated import moved_attribute

__all__ = ["ServerConfig", "create_app"]

# The CLI's own entry points, exported before 0.1's public-surface cut; deprecated until 0.2.
_MOVED = {"add_serve_parser": "qwen3_rag.server._command", "run_serve": "qwen3_rag.server._command"}


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ._dependencies import require_serve_dependencies

        require_serve_dependencies()
        from ._app import create_app

        return create_app
    if name == "ServerConfig":
        from ._config import ServerConfig

        return ServerConfig
    return moved_attribute(__name__, name, _MOVED)
