"""``python -m qwen3_rag ARGS``: the same as the ``qwen3-rag`` command."""

import sys

from ._cli import main

sys.exit(main())
