"""A deliberately plain implementation of docs/reference.md ("Embedding", "Reranker"), written
from the official README/example code and independent of qwen3_rag's runtime: its own model loading, the
tokenizer's own truncation and padding, no batching tricks. Tests compare the runtime to it.
"""

from __future__ import annotations

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


def get_detailed_instruct(task_description: str, query: str) -> str:
    return f"Instruct: {task_description}\nQuery:{query}"


def last_token_pool(last_hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    left_padding = attention_mask[:, -1].sum() == attention_mask.shape[0]
    if left_padding:
        return last_hidden_states[:, -1]
    sequence_lengths = attention_mask.sum(dim=1) - 1
    batch_size = last_hidden_states.shape[0]
    return last_hidden_states[torch.arange(batch_size), sequence_lengths]


class ReferenceEmbedder:
    def __init__(self, path: str) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
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
    def embed(self, texts: list[str], *, max_length: int = 8192, dim: int | None = None) -> np.ndarray:
        batch = self.tokenize(texts, max_length)
        outputs = self.model(**batch)
        embeddings = last_token_pool(outputs.last_hidden_state, batch["attention_mask"])
        if dim is not None:
            embeddings = embeddings[:, :dim]
        return F.normalize(embeddings, p=2, dim=1).numpy()


class ReferenceReranker:
    def __init__(self, path: str) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
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
    def score(
        self, query: str, documents: list[str], *, instruction: str = WEB_SEARCH, max_length: int = 8192
    ) -> list[float]:
        pairs = [f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}" for doc in documents]
        inputs = self.process_inputs(pairs, max_length)
        batch_scores = self.model(**inputs).logits[:, -1, :]
        true_vector = batch_scores[:, self.token_true_id]
        false_vector = batch_scores[:, self.token_false_id]
        batch_scores = torch.stack([false_vector, true_vector], dim=1)
        batch_scores = torch.nn.functional.log_softmax(batch_scores, dim=1)
        return batch_scores[:, 1].exp().tolist()
