"""Measurement 6: achieved FLOP/s of the embedding forward pass vs this machine's matmul peak."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence

import torch

from .checkpoints import Shape
from .common import Row, Section, Settings, best_time


def matmul_rates(
    hidden: int, ffn: int, *, dtype: torch.dtype = torch.float32, rows: int = 4096, seconds: float = 3.0
) -> dict[str, float]:
    """Best FLOP/s of the model's biggest matmul, ``(rows x hidden) @ (hidden x ffn)``, in ``dtype``.

    Three forms, each timed for ``seconds / 3``: a plain ``a @ b``; ``nn.Linear`` (``x @ W.T``,
    what transformers runs); and oneDNN with the weight packed once (``torch.utils.mkldnn``'s
    linear on mkldnn tensors, the kind of kernel vLLM's CPU backend uses). On this machine the
    forms differ by up to several times; the peak is the fastest (:func:`matmul_peak`).
    """
    a = torch.randn(rows, hidden, dtype=dtype)
    b = torch.randn(hidden, ffn, dtype=dtype)
    linear = torch.nn.Linear(hidden, ffn, bias=False, dtype=dtype)
    forms: dict[str, Callable[[], object]] = {"matmul": lambda: a @ b, "linear": lambda: linear(a)}
    try:
        with warnings.catch_warnings():  # torch.utils.mkldnn's modules use torch.jit, deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            from torch.utils import mkldnn as mkldnn_utils

            packed = mkldnn_utils.to_mkldnn(torch.nn.Linear(hidden, ffn, bias=False), dtype)
        x = a.float().to_mkldnn(dtype)
        forms["onednn_packed"] = lambda: packed(x)
    except (RuntimeError, AttributeError, TypeError):  # a build without oneDNN: two forms
        pass
    flops = 2.0 * rows * hidden * ffn
    rates: dict[str, float] = {}
    with torch.inference_mode():
        for form, fn in forms.items():
            fn()
            best = 0.0
            deadline = time.perf_counter() + seconds / len(forms)
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                fn()
                best = max(best, flops / (time.perf_counter() - start))
            rates[form] = best
    return rates


def matmul_peak(
    hidden: int, ffn: int, rows: int = 4096, seconds: float = 3.0, dtype: torch.dtype = torch.float32
) -> float:
    """The measured matmul peak (FLOP/s) of ``dtype`` at the model's biggest matmul shape."""
    return max(matmul_rates(hidden, ffn, dtype=dtype, rows=rows, seconds=seconds).values())


def corpus_flops(shape: Shape, document_tokens: Sequence[int]) -> float:
    """Useful forward FLOPs of embedding these documents (each plus its one end token)."""
    return sum((n + 1) * shape.flops_per_token((n + 2) / 2) for n in document_tokens)


def run(settings: Settings, embedding_section: Section | None) -> Section:
    """Fixed-batch forward and mixed-length corpus, fp32 and bf16, each against its own peak."""
    from functools import partial

    from qwen3_rag import Qwen3Embedder

    shape = settings.shape
    dims = (max(shape.hidden, 256), max(shape.ffn, 768))
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    rates = {name: matmul_rates(*dims, dtype=dtype) for name, dtype in dtypes.items()}
    section = Section("hardware", "", baseline="", unit="GFLOP/s")
    emb = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="float32")
    budget = emb.runtime.batcher.token_budget
    length = 256
    batch = max(16, budget // length)
    ids = [[1000 + (i * 7 + j) % 50_000 for j in range(length - 1)] + [151643] for i in range(batch)]

    def identity(payloads: object) -> list[list[int]]:
        return [list(p) for p in payloads]  # type: ignore[attr-defined]

    emb.runtime.batcher.run(ids[:2], identity)
    forward_s, _ = best_time(lambda: emb.runtime.batcher.run(ids, identity), max(2, settings.repeat))
    emb.close()
    corpus = settings.corpus
    bf16 = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="bfloat16")
    bf16.embed_documents(corpus.documents[:4])
    bf16_s, _ = best_time(partial(bf16.embed_documents, corpus.documents), settings.repeat)
    bf16.close()
    # Measure the peaks again after the forward passes and keep the best: on a busy machine a
    # single short measurement can land in a slow moment and overstate the share.
    for name, dtype in dtypes.items():
        again = matmul_rates(*dims, dtype=dtype)
        rates[name] = {form: max(rates[name][form], again[form]) for form in again}
    peaks = {name: max(r.values()) for name, r in rates.items()}
    section.extra.update(
        peak_flops=peaks["float32"],
        peaks=peaks,
        matmul_rates=rates,
        matmul_shape=[4096, *dims],
        threads=torch.get_num_threads(),
    )
    section.title = (
        "Hardware use: embedding forward FLOP/s vs the measured matmul peak "
        f"(fp32 {peaks['float32'] / 1e9:.0f}, bf16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s, "
        f"{torch.get_num_threads()} threads)"
    )

    def add(name: str, seconds: float, items: int, tokens: int, flops: float, dtype: str) -> None:
        extra = {
            "flops_per_s": flops / seconds,
            "share_of_peak": flops / seconds / peaks[dtype],
            "dtype": dtype,
            "peak_flops": peaks[dtype],
        }
        section.rows.append(Row(name, seconds, items, tokens, extra=extra))

    flops = batch * length * shape.flops_per_token((length + 1) / 2)
    add(
        f"qwen3-rag forward, {shape.name} shape, batch {batch} x {length} tokens, fp32",
        forward_s,
        batch,
        batch * length,
        flops,
        "float32",
    )
    total = corpus_flops(shape, corpus.document_tokens)
    tokens = sum(corpus.document_tokens) + len(corpus.documents)
    if embedding_section is not None:
        for row in embedding_section.rows:
            add(
                f"{row.contender}, mixed-length corpus, fp32",
                row.seconds,
                row.items,
                row.tokens,
                total,
                "float32",
            )
    add("qwen3-rag, mixed-length corpus, bf16", bf16_s, len(corpus.documents), tokens, total, "bfloat16")
    section.notes.append(
        "Useful FLOPs only: 2 x non-embedding parameters per token plus causal attention "
        "(4 x layers x heads x head_dim x average context); padding and the LM head count as waste. "
        "Each row is against the peak of its own dtype: the fastest of a plain matmul, nn.Linear and "
        "oneDNN with packed weights at the model's biggest shape "
        f"(4096 x {dims[0]} @ {dims[0]} x {dims[1]}), measured before and after the forward passes."
    )
    return section
