"""The performance levers, each against the setting the runtime keeps: ``relative`` is seconds / the
kept setting's seconds (> 1: slower than qwen3-rag's default) and ``max_abs_diff`` the largest gap of
the outputs to the kept setting's."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from .common import Data, Settings, best_time, gap, row, section
from .contenders import score, workload

BUDGETS = (1024, 2048, 4096, 8192, 16384)
Kept = tuple[float, np.ndarray]  # the kept setting's seconds and output
Timed = Callable[[], Any]


def with_budget(model: Any, budget: int, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with ``budget`` padded tokens per forward pass."""

    def run() -> Any:
        batcher = model.runtime.batcher
        kept, batcher.token_budget = batcher.token_budget, budget
        try:
            return fn()
        finally:
            batcher.token_budget = kept

    return run


def levers(s: Settings, done: list[Data]) -> list[Data]:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker
    from qwen3_rag._runtime.prefix_cache import scorer_for
    from qwen3_rag._runtime.tensors import left_pad

    rows: list[Data] = []
    notes = [
        "Kept: the prefix KV cache (exact), last-position logits (exact), the default token budget, "
        "all cores, fp32 on CPU. Query-embedding cache: not implemented (a hit saves one short "
        "forward pass; the micro-batcher already amortises repeated concurrent queries)."
    ]

    def add(lever: str, setting: str, fn: Timed, kept: Kept | None = None, note: str = "") -> Kept:
        seconds, out = best_time(fn, s.repeat)
        out = np.asarray(out, dtype=np.float32)
        relative, diff = (None, None) if kept is None else (seconds / kept[0], gap(out, kept[1]))
        rows.append(row(setting, seconds, diff=diff, note=note, lever=lever, relative=relative))
        return seconds, out

    emb = Qwen3Embedder.load(s.paths["embedding"], device="cpu", dtype="float32")
    rr = Qwen3Reranker.load(s.paths["reranker"], device="cpu", dtype="float32")
    embed = partial(emb.embed_documents, s.corpus.documents)
    emb.embed_documents(s.corpus.documents[:4])
    work = workload(s, 1, max((n for q, n in s.rerank_scenarios if q == 1), default=50))
    rerank = partial(score, rr, work)
    rr.score(work[0][0], work[0][1][:2])

    # 1. The reranker's shared-prefix KV cache, one query x N documents.
    scorer = scorer_for(rr.model)
    if scorer is None:
        notes.append("reranker prefix KV cache: not active for this model/attention implementation")
        kept_rerank = add("reranker prefix KV cache", "n/a", rerank)
    else:
        kept_rerank = add("reranker prefix KV cache", "on (kept)", rerank)
        planner, scorer.planner = scorer.planner, lambda sequences: None
        try:
            add("reranker prefix KV cache", "off", rerank, kept_rerank)
        finally:
            scorer.planner = planner

    # 2. The token budget (padded tokens per forward pass).
    budget = emb.runtime.batcher.token_budget
    kept_embed = add("embedding token budget", f"{budget} (kept)", embed)
    cases = ((emb, "embedding", embed, kept_embed), (rr, "reranker", rerank, kept_rerank))
    for model, lever, fn, kept in cases:
        for other in (b for b in BUDGETS if b != budget):
            add(f"{lever} token budget", str(other), with_budget(model, other, fn), kept)

    # 3. One intra-op thread against torch's default.
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
        try:
            add("torch threads", f"1 (default {threads})", embed, kept_embed)
        finally:
            torch.set_num_threads(threads)

    # 4. Only the last position's logits in the reranker (logits_to_keep=1) against all positions.
    bodies = rr._bodies(work[0][0], work[0][1][:8], None)
    input_ids, mask = left_pad(rr.encode_ids(bodies), 151643, torch.device("cpu"))
    yes, no = (rr.tokenizer.convert_tokens_to_ids(t) for t in ("yes", "no"))

    @torch.inference_mode()
    def p_yes(keep: int) -> np.ndarray:
        logits = rr.model(input_ids=input_ids, attention_mask=mask, logits_to_keep=keep).logits
        pair = logits[:, -1, [no, yes]]
        return torch.log_softmax(pair.float(), dim=1)[:, 1].exp().numpy()

    last = add("reranker logits", "last position only (kept)", partial(p_yes, 1))
    add("reranker logits", "all positions (official)", partial(p_yes, 0), last, "8 pairs, one batch")
    title = "Performance levers (qwen3-rag settings, fp32 unless stated)"
    return [section("levers", title, rows, baseline="", notes=notes)]
