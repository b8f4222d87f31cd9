"""One warning per topic per model, whichever backend (local or remote) the model runs on."""

from __future__ import annotations

import logging
import threading


def warn_once(log: logging.Logger, warned: set[str], lock: threading.Lock, topic: str, message: str) -> None:
    """Log ``message`` unless ``topic`` is in ``warned`` already (one model's set), then note it.

    The lock makes check-and-add atomic across caller threads; logging happens outside it."""
    with lock:
        if topic in warned:
            return
        warned.add(topic)
    log.warning(message)
