"""sentence-transformers, the way people run Qwen3-Embedding / Qwen3-Reranker with it.

- ``sentence_transformer_embedder``: built from explicit modules (Transformer + last-token
  Pooling + Normalize): loading the bare folder would pick mean pooling.
- ``sentence_transformer_cross_encoder``: ``CrossEncoder`` on the causal-LM reranker; the folder's
  chat template renders the official prompt.

The official example code is ``qwen3_rag.testing_reference`` (the one the tests compare against).
Every contender loads its own copy of the weights in float32 on the CPU.
"""

from __future__ import annotations

from typing import Any

import torch

from qwen3_rag.testing_reference import MAX_LENGTH


def sentence_transformer_embedder(path: str, *, dtype: torch.dtype = torch.float32) -> Any:
    """SentenceTransformer from explicit modules: Transformer, last-token Pooling, Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(
        path,
        model_kwargs={"dtype": dtype},
        processor_kwargs={"padding_side": "left"},
        max_seq_length=MAX_LENGTH,
    )
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="lasttoken")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")


def sentence_transformer_cross_encoder(path: str, *, dtype: torch.dtype = torch.float32) -> Any:
    """CrossEncoder on the causal-LM reranker: yes/no logit difference, sigmoid = P(yes)."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path, device="cpu", model_kwargs={"dtype": dtype}, max_length=MAX_LENGTH)
