"""A deliberately plain implementation of docs/reference.md ("Embedding", "Reranker").

Written from the official Qwen3-Embedding / Qwen3-Reranker README and example code, and independent
of qwen3_rag's own code on purpose (it imports nothing from the package): its own model loading,
prompt strings, the tokenizer's own truncation and padding, inputs in the order given, fixed-size
batches, and the reranker reading every position's logits as the example does. The tests compare
the runtime to it, and the benchmarks time it as "the official example code".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, BatchEncoding

WEB_SEARCH = "Given a web search query, retrieve relevant passages that answer the query"
PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
MAX_LENGTH = 8192  # the official examples' max_length

__all__ = ["MAX_LENGTH", "PREFIX", "SUFFIX", "WEB_SEARCH", "ReferenceEmbedder", "ReferenceReranker"]


def get_detailed_instruct(task_description: str, query: str) -> str:
    return f"Instruct: {task_description}\nQuery:{query}"


def last_token_pool(last_hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    left_padding = attention_mask[:, -1].sum() == attention_mask.shape[0]
    if left_padding:
        return last_hidden_states[:, -1]
    sequence_lengths = attention_mask.sum(dim=1) - 1
    batch_size = last_hidden_states.shape[0]
    return last_hidden_states[torch.arange(batch_size), sequence_lengths]


def _batches(items: Sequence[str], batch_size: int | None) -> list[list[str]]:
    size = batch_size or max(1, len(items))
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class ReferenceEmbedder:
    """The official Qwen3-Embedding transformers example (one batch, or fixed-size batches)."""

    def __init__(self, path: str, *, dtype: torch.dtype = torch.float32) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModel.from_pretrained(path, dtype=dtype).eval()
        self.eod_id = self.tokenizer.convert_tokens_to_ids("<|endoftext|>")
        # Does this tokenizer append <|endoftext|> itself (the current published one does)?
        self.appends_eod = self.tokenizer("a")["input_ids"][-1] == self.eod_id

    def tokenize(self, texts: list[str], max_length: int) -> BatchEncoding:
        if self.appends_eod:
            return self.tokenizer(
                texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
        # Older tokenizer: the official code cuts to max_length - 1 and appends the end token.
        batch = self.tokenizer(texts, padding=False, truncation=True, max_length=max_length - 1)
        batch["input_ids"] = [ids + [self.eod_id] for ids in batch["input_ids"]]
        batch["attention_mask"] = [mask + [1] for mask in batch["attention_mask"]]
        return self.tokenizer.pad(batch, padding=True, return_tensors="pt")

    @torch.no_grad()
    def embed(
        self,
        texts: Sequence[str],
        *,
        max_length: int = MAX_LENGTH,
        dim: int | None = None,
        batch_size: int | None = None,
    ) -> np.ndarray:
        out = []
        for texts_batch in _batches(texts, batch_size):
            batch = self.tokenize(texts_batch, max_length)
            outputs = self.model(**batch)
            embeddings = last_token_pool(outputs.last_hidden_state, batch["attention_mask"])
            if dim is not None:
                embeddings = embeddings[:, :dim]
            out.append(F.normalize(embeddings, p=2, dim=1).float().numpy())
        return np.concatenate(out)


class ReferenceReranker:
    """The official Qwen3-Reranker transformers example (one batch, or fixed-size batches)."""

    def __init__(self, path: str, *, dtype: torch.dtype = torch.float32) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()
        self.token_false_id = self.tokenizer.convert_tokens_to_ids("no")
        self.token_true_id = self.tokenizer.convert_tokens_to_ids("yes")
        self.prefix_tokens = self.tokenizer.encode(PREFIX, add_special_tokens=False)
        self.suffix_tokens = self.tokenizer.encode(SUFFIX, add_special_tokens=False)

    def process_inputs(self, pairs: list[str], max_length: int) -> BatchEncoding:
        inputs = self.tokenizer(
            pairs,
            padding=False,
            truncation="longest_first",
            return_attention_mask=False,
            max_length=max_length - len(self.prefix_tokens) - len(self.suffix_tokens),
        )
        for i, ele in enumerate(inputs["input_ids"]):
            inputs["input_ids"][i] = self.prefix_tokens + ele + self.suffix_tokens
        return self.tokenizer.pad(inputs, padding=True, return_tensors="pt", max_length=max_length)

    @torch.no_grad()
    def compute_logits(self, inputs: BatchEncoding) -> list[float]:
        batch_scores = self.model(**inputs).logits[:, -1, :]
        true_vector = batch_scores[:, self.token_true_id]
        false_vector = batch_scores[:, self.token_false_id]
        batch_scores = torch.stack([false_vector, true_vector], dim=1)
        batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
        return batch_scores[:, 1].exp().tolist()

    def score_pairs(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        instruction: str = WEB_SEARCH,
        max_length: int = MAX_LENGTH,
        batch_size: int | None = None,
    ) -> list[float]:
        bodies = [f"<Instruct>: {instruction}\n<Query>: {q}\n<Document>: {d}" for q, d in pairs]
        scores: list[float] = []
        for batch in _batches(bodies, batch_size):
            scores.extend(self.compute_logits(self.process_inputs(batch, max_length)))
        return scores

    def score(
        self, query: str, documents: list[str], *, instruction: str = WEB_SEARCH, max_length: int = MAX_LENGTH
    ) -> list[float]:
        return self.score_pairs(
            [(query, d) for d in documents], instruction=instruction, max_length=max_length
        )
