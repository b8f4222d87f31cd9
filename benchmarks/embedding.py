"""Measurement 1: document embedding throughput on the mixed-length corpus."""

from __future__ import annotations

import gc
from functools import partial

from .common import Row, Section, Settings, best_time
from .contenders import sentence_transformer_embedder


def run(settings: Settings) -> Section:
    from qwen3_rag import Qwen3Embedder
    from qwen3_rag.testing_reference import ReferenceEmbedder

    docs = settings.corpus.documents
    tokens = sum(settings.corpus.document_tokens) + len(docs)  # + the end token of each
    section = Section(
        "embedding",
        f"Document embedding ({len(docs)} texts, {tokens} tokens, fp32)",
        unit="texts/s",
    )
    warm = docs[:4]

    emb = Qwen3Embedder.load(settings.paths["embedding"], device="cpu", dtype="float32")
    emb.embed_documents(warm)
    seconds, ours = best_time(partial(emb.embed_documents, docs), settings.repeat)
    section.rows.append(
        Row("qwen3-rag", seconds, len(docs), tokens, note=f"token budget {emb.runtime.batcher.token_budget}")
    )

    bs = settings.embed_batch_size
    try:
        st = sentence_transformer_embedder(settings.paths["embedding"])
    except ImportError as exc:
        section.notes.append(f"not available: sentence-transformers ({exc}); pip install -e '.[bench]'")
    else:
        st.encode(warm, batch_size=bs)
        seconds, theirs = best_time(
            partial(st.encode, docs, batch_size=bs, convert_to_numpy=True), settings.repeat
        )
        section.rows.append(
            Row.compared(
                "sentence-transformers",
                seconds,
                len(docs),
                tokens,
                theirs,
                ours,
                note=f"Transformer + Pooling(lasttoken) + Normalize, batch {bs}, length-sorted",
            )
        )
        del st
        gc.collect()

    official = ReferenceEmbedder(settings.paths["embedding"])
    official.embed(warm, batch_size=bs)
    seconds, theirs = best_time(partial(official.embed, docs, batch_size=bs), settings.repeat)
    section.rows.append(
        Row.compared(
            "official example loop", seconds, len(docs), tokens, theirs, ours, note=f"batch {bs}, input order"
        )
    )
    del official
    gc.collect()
    return section
