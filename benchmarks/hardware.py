"""Measurement 6: achieved FLOP/s of the embedding forward pass vs this machine's matmul peak."""

from __future__ import annotations

import time

import torch

from .common import Row, Section, Settings, best_time


def matmul_peak(hidden: int, ffn: int, rows: int = 4096, seconds: float = 3.0) -> float:
    """Best fp32 FLOP/s of ``(rows x hidden) @ (hidden x ffn)``: the model's biggest matmul."""
    a = torch.randn(rows, hidden)
    b = torch.randn(hidden, ffn)
    flops = 2.0 * rows * hidden * ffn
    a @ b
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        a @ b
        best = max(best, flops / (time.perf_counter() - start))
    return best


def run(settings: Settings, embedding_section: Section | None) -> Section:
    from qwen3_rag import Qwen3Embedder

    shape = settings.shape
    peak = matmul_peak(max(shape.hidden, 256), max(shape.ffn, 768))
    section = Section(
        "hardware",
        f"Hardware use: embedding forward FLOP/s vs measured fp32 matmul peak "
        f"({peak / 1e9:.1f} GFLOP/s, {torch.get_num_threads()} threads)",
        baseline="",
        unit="GFLOP/s",
    )
    section.extra["peak_flops"] = peak
    emb = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="float32")
    budget = emb.runtime.batcher.token_budget
    length = 256
    batch = max(16, budget // length)
    ids = [[1000 + (i * 7 + j) % 50_000 for j in range(length - 1)] + [151643] for i in range(batch)]

    def identity(payloads: object) -> list[list[int]]:
        return [list(p) for p in payloads]  # type: ignore[attr-defined]

    emb.runtime.batcher.run(ids[:2], identity)
    seconds, _ = best_time(lambda: emb.runtime.batcher.run(ids, identity), max(2, settings.repeat))
    # Measure the peak again after the forward passes and keep the best: on a busy machine a
    # single short measurement can land in a slow moment and overstate the share.
    peak = max(peak, matmul_peak(max(shape.hidden, 256), max(shape.ffn, 768)))
    section.extra["peak_flops"] = peak
    section.title = (
        "Hardware use: embedding forward FLOP/s vs measured fp32 matmul peak "
        f"({peak / 1e9:.1f} GFLOP/s, {torch.get_num_threads()} threads)"
    )
    flops = batch * length * shape.flops_per_token((length + 1) / 2)
    section.rows.append(
        Row(
            f"qwen3-rag forward, {shape.name} shape, batch {batch} x {length} tokens",
            seconds,
            batch,
            batch * length,
            extra={"flops_per_s": flops / seconds, "share_of_peak": flops / seconds / peak},
        )
    )
    if embedding_section is not None:
        corpus = settings.corpus
        for row in embedding_section.rows:
            total = sum((n + 1) * shape.flops_per_token((n + 2) / 2) for n in corpus.document_tokens)
            section.rows.append(
                Row(
                    f"{row.contender}, mixed-length corpus",
                    row.seconds,
                    row.items,
                    row.tokens,
                    extra={"flops_per_s": total / row.seconds, "share_of_peak": total / row.seconds / peak},
                )
            )
    section.notes.append(
        "Useful FLOPs only: 2 x non-embedding parameters per token plus causal attention "
        "(4 x layers x heads x head_dim x average context); padding and the LM head count as waste."
    )
    return section
