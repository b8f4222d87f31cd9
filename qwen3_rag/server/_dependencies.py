"""The server's optional dependencies, checked once with an error that says how to install them."""

from __future__ import annotations

import importlib.util

from .._errors import MissingDependencyError

SERVE_MODULES = ("fastapi", "uvicorn", "prometheus_client")


def require_serve_dependencies() -> None:
    """Raise :class:`MissingDependencyError` unless FastAPI, uvicorn and prometheus-client import."""
    missing = [name for name in SERVE_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f"`qwen3-rag serve` needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            "not installed. Install the server extra: pip install 'qwen3-rag[serve]'"
        )
