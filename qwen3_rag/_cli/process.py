"""What every command shares as a process: exit statuses, logging to stderr."""

from __future__ import annotations

import logging
import os
import sys

EXIT_ERROR = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by it


def quiet_libraries(no_progress: bool) -> None:
    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stderr)
    if no_progress or not sys.stderr.isatty():
        # Read by huggingface-hub and by transformers when they are imported (only commands that
        # load a model import them: setting it here costs nothing).
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
