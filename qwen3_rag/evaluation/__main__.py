"""``python -m qwen3_rag.evaluation DATA_DIR [options]``: the same as ``qwen3-rag eval``."""

import sys

from .._cli.eval import main

sys.exit(main())
