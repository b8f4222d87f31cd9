"""``qwen3-rag eval``: retrieval quality of the four modes on a data set in the BEIR layout."""

from .beir import BeirDataset, DatasetError, load_beir
from .command import add_eval_parser, run_eval
from .evaluate import EvalResult, evaluate_beir
from .metrics import MEASURES, evaluate, write_runs
from .runs import MODES

__all__ = [
    "MEASURES",
    "MODES",
    "BeirDataset",
    "DatasetError",
    "EvalResult",
    "add_eval_parser",
    "evaluate",
    "evaluate_beir",
    "load_beir",
    "run_eval",
    "write_runs",
]
