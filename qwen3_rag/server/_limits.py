"""Limits on slow and idle clients: the settings alone, without uvicorn (the CLI parser reads the
defaults; :mod:`._protocol` enforces them)."""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import InvalidOptionError

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_KEEP_ALIVE_S = 5


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take to send a request, and how many connections may be open."""

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InvalidOptionError(f"{name}={value!r}; it must be a number of seconds > 0.")
        count = self.max_connections
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidOptionError(f"max_connections={count!r}; it must be an integer >= 1.")
