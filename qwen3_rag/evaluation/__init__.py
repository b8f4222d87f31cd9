"""``qwen3-rag eval``: retrieval quality of the four modes on a data set in the BEIR layout."""

from ._beir import BeirDataset, DatasetError, load_beir
from ._evaluate import EvalResult, evaluate_beir
from ._metrics import MEASURES
from ._runs import MODES

__all__ = ["MEASURES", "MODES", "BeirDataset", "DatasetError", "EvalResult", "evaluate_beir", "load_beir"]
