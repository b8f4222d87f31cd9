"""Settings of one server: limits and the API key, validated when built."""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import InvalidOptionError
from .._runtime.validation import check_positive_int

DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_INPUTS = 2048


@dataclass(frozen=True)
class ServerConfig:
    """Limits every request is held to; ``api_key=None`` serves without authentication."""

    api_key: str | None = None
    """Clients must send ``Authorization: Bearer <api_key>`` on ``/v1/*`` when set."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest request body accepted (413 above it)."""
    max_inputs: int = DEFAULT_MAX_INPUTS
    """Most embedding inputs or rerank documents in one request (413 above it)."""
    retry_after_s: int = 1
    """The ``Retry-After`` header sent with 429 when the batcher's queue is full."""

    def __post_init__(self) -> None:
        for name in ("max_request_bytes", "max_inputs", "retry_after_s"):
            check_positive_int(getattr(self, name), name)
        if self.api_key is not None and not self.api_key:
            raise InvalidOptionError("api_key='' is not a key; pass None to serve without one.")
