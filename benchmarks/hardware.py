"""Achieved FLOP/s of the embedding forward pass against this machine's measured matmul peak."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial

import torch

from .checkpoints import Shape
from .common import Data, Settings, best_time, row, section

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def matmul_rates(
    hidden: int, ffn: int, *, dtype: torch.dtype = torch.float32, rows: int = 4096, seconds: float = 3.0
) -> dict[str, float]:
    """Best FLOP/s of the model's biggest matmul, ``(rows x hidden) @ (hidden x ffn)``, in ``dtype``,
    in three forms (``seconds / 3`` each): a plain ``a @ b``; ``nn.Linear`` (``x @ W.T``, what
    transformers runs); oneDNN with the weight packed once (``torch.utils.mkldnn``, the kind of
    kernel vLLM's CPU backend uses). They differ by up to several times here; the peak is the fastest."""
    a, b = torch.randn(rows, hidden, dtype=dtype), torch.randn(hidden, ffn, dtype=dtype)
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
    rates: dict[str, float] = {}
    with torch.inference_mode():
        for form, fn in forms.items():
            fn()
            best, deadline = 0.0, time.perf_counter() + seconds / len(forms)
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                fn()
                best = max(best, 2.0 * rows * hidden * ffn / (time.perf_counter() - start))
            rates[form] = best
    return rates


def corpus_flops(shape: Shape, document_tokens: Sequence[int]) -> float:
    """Useful forward FLOPs of embedding these documents (each plus its one end token)."""
    return sum((n + 1) * shape.flops_per_token((n + 2) / 2) for n in document_tokens)


def hardware(s: Settings, done: list[Data]) -> list[Data]:
    """A fixed-batch forward pass and the mixed-length corpus, fp32 and bf16, each against its own peak."""
    from qwen3_rag import Qwen3Embedder

    shape, docs, path = s.shape, s.corpus.documents, s.paths["embedding"]
    dims = (max(shape.hidden, 256), max(shape.ffn, 768))
    rates = {name: matmul_rates(*dims, dtype=dtype) for name, dtype in DTYPES.items()}
    emb = Qwen3Embedder.load(path, device="cpu", dtype="float32")
    batcher, length = emb.runtime.batcher, 256
    batch = max(16, batcher.token_budget // length)
    ids = [[1000 + (i * 7 + j) % 50_000 for j in range(length - 1)] + [151643] for i in range(batch)]

    def identity(payloads: object) -> list[list[int]]:
        return [list(p) for p in payloads]  # type: ignore[attr-defined]

    batcher.run(ids[:2], identity)
    forward_s, _ = best_time(lambda: batcher.run(ids, identity), max(2, s.repeat))
    emb.close()
    bf16 = Qwen3Embedder.load(path, device="cpu", dtype="bfloat16")
    bf16.embed_documents(docs[:4])
    bf16_s, _ = best_time(partial(bf16.embed_documents, docs), s.repeat)
    bf16.close()
    for name, dtype in DTYPES.items():  # again after the runs, best kept: one can land in a slow moment
        again = matmul_rates(*dims, dtype=dtype)
        rates[name] = {form: max(rates[name][form], again[form]) for form in again}
    peaks = {name: max(r.values()) for name, r in rates.items()}

    def rate(name: str, seconds: float, items: int, tokens: int, flops: float, dtype: str) -> Data:
        share = flops / seconds / peaks[dtype]
        return row(name, seconds, items, tokens, flops_per_s=flops / seconds, share_of_peak=share,
                   dtype=dtype, peak_flops=peaks[dtype])  # fmt: skip

    total = corpus_flops(shape, s.corpus.document_tokens)
    tokens = sum(s.corpus.document_tokens) + len(docs)
    embedded: list[Data] = next((x["rows"] for x in done if x["key"] == "embedding" and x["available"]), [])
    rows = [
        rate(f"qwen3-rag forward, {shape.name} shape, batch {batch} x {length} tokens, fp32", forward_s,
             batch, batch * length, batch * length * shape.flops_per_token((length + 1) / 2), "float32"),
        *(rate(f"{r['contender']}, mixed-length corpus, fp32", r["seconds"], r["items"], r["tokens"], total,
               "float32") for r in embedded),
        rate("qwen3-rag, mixed-length corpus, bf16", bf16_s, len(docs), tokens, total, "bfloat16"),
    ]  # fmt: skip
    threads = torch.get_num_threads()
    title = "Hardware use: embedding forward FLOP/s vs the measured matmul peak "
    title += f"(fp32 {peaks['float32'] / 1e9:.0f}, bf16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s, "
    title += f"{threads} threads)"
    note = (
        "Useful FLOPs only: 2 x non-embedding parameters per token plus causal attention "
        "(4 x layers x heads x head_dim x average context); padding and the LM head count as waste. "
        "Each row is against the peak of its own dtype: the fastest of a plain matmul, nn.Linear and "
        "oneDNN with packed weights at the model's biggest shape "
        f"(4096 x {dims[0]} @ {dims[0]} x {dims[1]}), measured before and after the forward passes."
    )
    extra = {"peak_flops": peaks["float32"], "peaks": peaks, "matmul_rates": rates,
             "matmul_shape": [4096, *dims], "threads": threads}  # fmt: skip
    return [section("hardware", title, rows, baseline="", unit="GFLOP/s", notes=[note], extra=extra)]
