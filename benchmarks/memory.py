"""Peak RSS of one process where the LangChain adapter, the LlamaIndex adapter and the pipeline use
one model, against one model alone and against each user loading its own copy. Each case is a fresh
``python -m benchmarks.memory CASE PATH`` printing its RSS after imports and its peak (``VmHWM``:
``ru_maxrss`` can carry the parent's peak across exec); the model's cost is the difference."""

from __future__ import annotations

import json
import os
import sys

from .common import ROOT, Data, Settings, row, run_module, section, unavailable
from .procfs import proc_mb

CASES = {
    "one model": "one",
    "qwen3-rag: LangChain + LlamaIndex + pipeline, shared": "shared",
    "each user loads its own copy (3 x sentence-transformers)": "separate",
}
TEXTS = ["The quick brown fox.", "Retrieval augmented generation.", "A vector database."]


def probe(case: str, path: str) -> Data:
    import torch  # noqa: F401  (imports count as the baseline, not as the model)
    import transformers  # noqa: F401

    from qwen3_rag import Qwen3Embedder

    if case == "shared":
        from langchain_qwen3_rag import Qwen3Embeddings
        from llama_index.embeddings.qwen3_rag import Qwen3Embedding

        from qwen3_rag.pipeline import Ingestor, QdrantStore
    elif case == "separate":
        import sentence_transformers  # noqa: F401
    base = proc_mb("VmRSS")
    if case == "shared":
        Qwen3Embeddings(model=path, device="cpu", dtype="float32").embed_documents(TEXTS)
        Qwen3Embedding(model_name=path, device="cpu", dtype="float32").get_text_embedding_batch(TEXTS)
        emb = Qwen3Embedder.load(path, device="cpu", dtype="float32")
        Ingestor(QdrantStore("mem", location=":memory:"), emb, progress=False)
        emb.embed_documents(TEXTS)
    elif case == "separate":
        from .contenders import st_embedder

        for model in [st_embedder(path) for _ in range(3)]:
            model.encode(TEXTS)
    else:
        Qwen3Embedder.load(path, device="cpu", dtype="float32").embed_documents(TEXTS)
    return {"base_mb": base, "peak_mb": proc_mb("VmHWM")}


def memory(s: Settings, done: list[Data]) -> list[Data]:
    rows, notes = [], []
    for name, case in CASES.items():
        args = [case, s.paths["embedding"]]
        child = run_module("benchmarks.memory", args, env=os.environ, timeout=900, cwd=ROOT)
        if child.returncode != 0:
            notes.append(f"{name}: {(child.stderr.strip().splitlines() or ['no output'])[-1]}")
            continue
        data = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(row(name, data["peak_mb"] - data["base_mb"], 1, 0, **data))
    title = "Memory: peak RSS of one process (embedding model, fp32)"
    if not rows:
        return [unavailable("memory", "; ".join(notes))]
    notes = [f"not available: {note}" for note in notes]
    return [section("memory", title, rows, baseline="one model", unit="MB", notes=notes)]


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], sys.argv[2])))
