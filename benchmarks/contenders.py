"""The ways people run Qwen3-Embedding / Qwen3-Reranker today, written plainly.

- ``Official*``: the official README/example code (docs/reference.md): a fixed batch size, inputs in
  the order given, the tokenizer's own padding and truncation, all positions' logits for the
  reranker (the example calls ``model(**inputs).logits[:, -1, :]``).
- ``sentence_transformer_embedder``: sentence-transformers built from explicit modules
  (Transformer + last-token Pooling + Normalize): loading the bare folder would pick mean pooling.
- ``sentence_transformer_cross_encoder``: sentence-transformers' ``CrossEncoder`` on the causal-LM
  reranker; the folder's chat template renders the official prompt.

Every contender loads its own copy of the weights in float32 on the CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from qwen3_rag._prompts import (
    DEFAULT_QUERY_INSTRUCTION,
    RERANKER_PREFIX,
    RERANKER_SUFFIX,
    format_query,
    format_rerank_body,
)

OFFICIAL_MAX_LENGTH = 8192


def _last_token_pool(last_hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    left_padding = attention_mask[:, -1].sum() == attention_mask.shape[0]
    if left_padding:
        return last_hidden_states[:, -1]
    sequence_lengths = attention_mask.sum(dim=1) - 1
    batch_size = last_hidden_states.shape[0]
    return last_hidden_states[torch.arange(batch_size), sequence_lengths]


class OfficialEmbedder:
    """The official Qwen3-Embedding transformers example, looped over fixed-size batches."""

    def __init__(self, path: str, *, batch_size: int, dtype: torch.dtype = torch.float32) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModel.from_pretrained(path, dtype=dtype).eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=OFFICIAL_MAX_LENGTH,
                return_tensors="pt",
            )
            outputs = self.model(**batch)
            embeddings = _last_token_pool(outputs.last_hidden_state, batch["attention_mask"])
            out.append(F.normalize(embeddings, p=2, dim=1).float().numpy())
        return np.concatenate(out)

    def embed_queries(
        self, queries: Sequence[str], instruction: str = DEFAULT_QUERY_INSTRUCTION
    ) -> np.ndarray:
        return self.embed([format_query(q, instruction) for q in queries])


class OfficialReranker:
    """The official Qwen3-Reranker transformers example, looped over fixed-size batches."""

    def __init__(self, path: str, *, batch_size: int, dtype: torch.dtype = torch.float32) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
        self.token_false_id = self.tokenizer.convert_tokens_to_ids("no")
        self.token_true_id = self.tokenizer.convert_tokens_to_ids("yes")
        self.prefix_tokens = self.tokenizer.encode(RERANKER_PREFIX, add_special_tokens=False)
        self.suffix_tokens = self.tokenizer.encode(RERANKER_SUFFIX, add_special_tokens=False)
        self.batch_size = batch_size

    def _process_inputs(self, pairs: list[str]) -> Any:
        inputs = self.tokenizer(
            pairs,
            padding=False,
            truncation="longest_first",
            return_attention_mask=False,
            max_length=OFFICIAL_MAX_LENGTH - len(self.prefix_tokens) - len(self.suffix_tokens),
        )
        for i, ele in enumerate(inputs["input_ids"]):
            inputs["input_ids"][i] = self.prefix_tokens + ele + self.suffix_tokens
        return self.tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=OFFICIAL_MAX_LENGTH)

    @torch.no_grad()
    def _compute_logits(self, inputs: Any) -> list[float]:
        batch_scores = self.model(**inputs).logits[:, -1, :]
        true_vector = batch_scores[:, self.token_true_id]
        false_vector = batch_scores[:, self.token_false_id]
        batch_scores = torch.stack([false_vector, true_vector], dim=1)
        batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
        return batch_scores[:, 1].exp().tolist()

    def score_pairs(
        self, pairs: Sequence[tuple[str, str]], instruction: str = DEFAULT_QUERY_INSTRUCTION
    ) -> list[float]:
        bodies = [format_rerank_body(q, d, instruction) for q, d in pairs]
        scores: list[float] = []
        for start in range(0, len(bodies), self.batch_size):
            scores.extend(self._compute_logits(self._process_inputs(bodies[start : start + self.batch_size])))
        return scores


def sentence_transformer_embedder(path: str, *, dtype: torch.dtype = torch.float32) -> Any:
    """SentenceTransformer from explicit modules: Transformer, last-token Pooling, Normalize."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(
        path,
        model_kwargs={"dtype": dtype},
        processor_kwargs={"padding_side": "left"},
        max_seq_length=OFFICIAL_MAX_LENGTH,
    )
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="lasttoken")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")


def sentence_transformer_cross_encoder(path: str, *, dtype: torch.dtype = torch.float32) -> Any:
    """CrossEncoder on the causal-LM reranker: yes/no logit difference, sigmoid = P(yes)."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(path, device="cpu", model_kwargs={"dtype": dtype}, max_length=OFFICIAL_MAX_LENGTH)
