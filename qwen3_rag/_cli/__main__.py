"""``python -m qwen3_rag._cli ARGS``: the same as the ``qwen3-rag`` command."""

import sys

from . import main

sys.exit(main())
