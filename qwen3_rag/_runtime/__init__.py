"""The embedder and reranker: the Qwen3 procedure (:mod:`.procedure`) over a backend that runs
the model (:mod:`.backend`), local (loading, device/dtype choice, batching: :mod:`.local`,
:mod:`.loading`, :mod:`.registry` of loaded models) or remote (:mod:`.remote`). :mod:`.model`
holds the one ``load``; :mod:`.options` the one value it passes down (:class:`ModelOptions`).

Importing this package imports no torch: :mod:`.local` and :mod:`.loading` load it when a model
is first loaded in this process, so a client of a server (``base_url=``) never pays for it.
"""

from .embedder import DEFAULT_EMBEDDING_MODEL, Qwen3Embedder
from .options import ModelOptions
from .registry import close_all, loaded_models
from .reranker import DEFAULT_RERANKER_MODEL, Qwen3Reranker

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_RERANKER_MODEL",
    "ModelOptions",
    "Qwen3Embedder",
    "Qwen3Reranker",
    "close_all",
    "loaded_models",
]
