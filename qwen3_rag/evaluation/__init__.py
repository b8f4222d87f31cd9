"""``qwen3-rag eval``: retrieval quality of the four modes on a data set in the BEIR layout."""

from typing import Any

from .._deprecated import moved_attribute
from ._beir import BeirDataset, DatasetError, load_beir
from ._evaluate import EvalResult, evaluate_beir
from ._metrics import MEASURES
from ._runs import MODES

__all__ = ["MEASURES", "MODES", "BeirDataset", "DatasetError", "EvalResult", "evaluate_beir", "load_beir"]

# Exported before 0.1's public-surface cut; deprecated until 0.2.
_MOVED = {
    "add_eval_parser": "qwen3_rag.evaluation._command",
    "run_eval": "qwen3_rag.evaluation._command",
    "evaluate": "qwen3_rag.evaluation._metrics",
    "write_runs": "qwen3_rag.evaluation._metrics",
}


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name, _MOVED)
