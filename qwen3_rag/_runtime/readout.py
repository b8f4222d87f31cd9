"""The reranker's readout at the last position: ``[P(yes), logit(yes) - logit(no)]`` per row.

Two checkpoint layouts give the same numbers from one forward pass:

- the official causal LM (``Qwen3ForCausalLM``): the LM head's "no" and "yes" rows only, at the
  last position only (what ``logits_to_keep=1`` computes, less the other 151k vocabulary rows),
  P(yes) = softmax([logit(no), logit(yes)])[1] exactly as the official code computes it, and the
  log-odds ``logit(yes) - logit(no)`` from the same two logits;
- a sequence-classification conversion (``Qwen3ForSequenceClassification``, one label): its
  one-logit head *is* ``lm_head[yes] - lm_head[no]``, so its output at the last token is the
  log-odds and P(yes) = sigmoid(log-odds). The decoder runs without the class's own pooling (which
  finds the last token through ``pad_token_id``); with left padding the last position is every
  row's last token.

Both run the decoder (``model.base_model``) and apply the head to its contiguous last-position
hidden state themselves. The full LM head is never computed: on the non-contiguous
``[rows, 1, hidden]`` slice that ``logits_to_keep=1`` leaves, with weights that do not require
grad (the loader turns grad off), torch's ``matmul`` does not fold the batch and takes a batched
path with the weight expanded per row; in bfloat16 on CPU that copies the whole tied
151,669 x hidden weight for every row (87% of the bf16 reranker's time, torch profiler). The head
rows are read from the weight at each call, so a weight cast in place (the float32 fallback of
:mod:`.resilience`) is what they use.
"""

from __future__ import annotations

from typing import Any

import torch

from .._prompts import RERANKER_NO_TOKEN, RERANKER_YES_TOKEN


def is_sequence_classifier(model: Any) -> bool:
    """Whether ``model`` is a one-logit sequence-classification conversion (a ``score`` head)."""
    return hasattr(model, "score") and not hasattr(model, "lm_head")


class YesNoReadout:
    """``readout(**model_inputs)`` -> float32 ``(rows, 2)`` tensor on the model's device."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        self.classifier = is_sequence_classifier(model)
        self.yes_id, self.no_id = (
            int(tokenizer.convert_tokens_to_ids(t)) for t in (RERANKER_YES_TOKEN, RERANKER_NO_TOKEN)
        )
        self.decoder: Any = model.base_model
        self._rows = [self.no_id, self.yes_id]

    def __call__(self, **inputs: Any) -> torch.Tensor:
        hidden = self.decoder(**inputs).last_hidden_state[:, -1].contiguous()
        if self.classifier:
            logit = self.model.score(hidden)[:, 0].float()
            return torch.stack([torch.sigmoid(logit), logit], dim=1)
        head = self.model.get_output_embeddings()
        rows = torch.tensor(self._rows, device=head.weight.device)
        bias = head.bias[rows] if getattr(head, "bias", None) is not None else None
        pair = torch.nn.functional.linear(hidden, head.weight[rows], bias).float()
        probability = torch.log_softmax(pair, dim=1)[:, 1].exp()
        return torch.stack([probability, pair[:, 1] - pair[:, 0]], dim=1)
