"""What every command shares as a process: exit statuses, logging to stderr."""

from __future__ import annotations

import logging
import os
import sys

EXIT_ERROR = 1  # an error the user can fix, said in one line on stderr
EXIT_USAGE = 2  # what argparse exits with for a command line it cannot take
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by it


def quiet_libraries(no_progress: bool, *, log_format: str = "%(message)s", info: str | None = None) -> None:
    """Warnings and errors on stderr in ``log_format`` (``info``: a logger that also says INFO);
    no progress bars when asked or when stderr is not a terminal."""
    logging.basicConfig(format=log_format, level=logging.WARNING, stream=sys.stderr)
    if info is not None:
        logging.getLogger(info).setLevel(logging.INFO)
    if no_progress or not sys.stderr.isatty():
        # Read by huggingface-hub and by transformers when they are imported (only commands that
        # load a model import them: setting it here costs nothing).
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
