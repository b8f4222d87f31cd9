"""The performance levers, each measured against the setting the runtime keeps.

Rows report ``seconds`` and ``relative`` = seconds / the kept setting's seconds (> 1: slower
than what qwen3-rag does by default) and the max abs difference of the outputs against the
kept setting (the fp32 reference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .common import Row, Section, Settings, best_time
from .reranking import _ours, _workload

BUDGETS = (1024, 2048, 4096, 8192, 16384)


def _add(
    section: Section,
    lever: str,
    setting: str,
    fn: Callable[[], Any],
    repeat: int,
    reference: np.ndarray | None,
    kept: float | None,
    note: str = "",
) -> tuple[float, np.ndarray]:
    seconds, out = best_time(fn, repeat)
    out = np.asarray(out, dtype=np.float32)
    diff = None if reference is None else float(np.abs(out - reference).max())
    relative = None if kept is None else seconds / kept
    section.rows.append(
        Row(setting, seconds, 0, 0, diff, note=note, extra={"lever": lever, "relative": relative})
    )
    return seconds, out


def _set_budget(runtime: Any, budget: int) -> None:
    runtime.batcher.token_budget = budget


def run(settings: Settings) -> list[Section]:
    from qwen3_rag import Qwen3Embedder, Qwen3Reranker

    section = Section("levers", "Performance levers (qwen3-rag settings, fp32 unless stated)", baseline="")
    repeat = max(1, settings.repeat)
    docs = settings.corpus.documents
    emb = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="float32")
    rr = Qwen3Reranker.load(settings.paths["reranker"], device="cpu", dtype="float32")
    default_budget = emb.runtime.batcher.token_budget
    emb.embed_documents(docs[:4])

    # 1. Reranker shared-prefix KV cache, one query x N documents.
    per_query = (
        max(q * n for q, n in settings.rerank_scenarios if q == 1) if settings.rerank_scenarios else 50
    )
    work = _workload(settings, 1, per_query)
    from qwen3_rag._runtime.prefix_cache import scorer_for

    scorer = scorer_for(rr.model)
    rr.score(work[0][0], work[0][1][:2])
    if scorer is not None:
        planner = scorer.planner
        kept, ref = _add(
            section, "reranker prefix KV cache", "on (kept)", lambda: _ours(rr, work), repeat, None, None
        )
        scorer.planner = lambda sequences: None
        try:
            _add(section, "reranker prefix KV cache", "off", lambda: _ours(rr, work), repeat, ref, kept)
        finally:
            scorer.planner = planner
    else:
        section.notes.append("reranker prefix KV cache: not active for this model/attention implementation")
        kept, ref = _add(
            section, "reranker prefix KV cache", "n/a", lambda: _ours(rr, work), repeat, None, None
        )

    # 2. Token budget (padded tokens per forward pass), embedding and reranking.
    _, emb_ref = _add(
        section,
        "embedding token budget",
        f"{default_budget} (kept)",
        lambda: emb.embed_documents(docs),
        repeat,
        None,
        None,
    )
    kept_emb = section.rows[-1].seconds
    for budget in BUDGETS:
        if budget == default_budget:
            continue
        _set_budget(emb.runtime, budget)
        try:
            _add(
                section,
                "embedding token budget",
                str(budget),
                lambda: emb.embed_documents(docs),
                repeat,
                emb_ref,
                kept_emb,
            )
        finally:
            _set_budget(emb.runtime, default_budget)
    for budget in BUDGETS:
        if budget == default_budget:
            continue
        _set_budget(rr.runtime, budget)
        try:
            _add(section, "reranker token budget", str(budget), lambda: _ours(rr, work), repeat, ref, kept)
        finally:
            _set_budget(rr.runtime, default_budget)

    # 3. Threads: one intra-op thread vs torch's default.
    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
        try:
            _add(
                section,
                "torch threads",
                f"1 (default {threads})",
                lambda: emb.embed_documents(docs),
                repeat,
                emb_ref,
                kept_emb,
            )
        finally:
            torch.set_num_threads(threads)

    # 4. Only the last position's logits in the reranker (logits_to_keep=1) vs all positions.
    model = rr.model
    bodies = rr._bodies(work[0][0], work[0][1][:8], None)
    from qwen3_rag._runtime.tensors import left_pad

    input_ids, mask = left_pad(rr.encode_ids(bodies), 151643, torch.device("cpu"))
    yes, no = (rr.tokenizer.convert_tokens_to_ids(t) for t in ("yes", "no"))

    @torch.inference_mode()
    def logits_scores(keep: int) -> np.ndarray:
        logits = model(input_ids=input_ids, attention_mask=mask, logits_to_keep=keep).logits
        pair = logits[:, -1, [no, yes]].float()
        return torch.log_softmax(pair, dim=1)[:, 1].exp().numpy()

    last_s, last_ref = _add(
        section, "reranker logits", "last position only (kept)", lambda: logits_scores(1), repeat, None, None
    )
    _add(
        section,
        "reranker logits",
        "all positions (official)",
        lambda: logits_scores(0),
        repeat,
        last_ref,
        last_s,
        "8 pairs, one batch",
    )

    # 5. bf16 weights and activations on this CPU (accuracy vs fp32, speed).
    try:
        emb16 = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="bfloat16")
        emb16.embed_documents(docs[:4])
        _, vec16 = _add(
            section,
            "CPU dtype",
            "bfloat16 embedding",
            lambda: emb16.embed_documents(docs),
            repeat,
            emb_ref,
            kept_emb,
        )
        cosine = float(np.min(np.sum(vec16 * emb_ref, axis=1)))
        section.rows[-1].note = f"min cosine to fp32 {cosine:.5f}"
        emb16.close()
    except Exception as exc:  # bf16 kernels missing on some CPUs
        section.notes.append(f"bfloat16: not available ({type(exc).__name__}: {exc})")
    section.notes += [
        "Kept: the prefix KV cache (exact), last-position logits (exact), the default token budget, "
        "all cores, fp32 on CPU. Query-embedding cache: not implemented (a hit saves one short "
        "forward pass; the micro-batcher already amortises repeated concurrent queries).",
    ]
    return [section]
