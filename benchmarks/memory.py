"""Measurement 4: peak RSS of one process where the LangChain adapter, the LlamaIndex adapter
and the pipeline use one model, vs one model alone, vs each user loading its own copy.

Each case runs in a fresh subprocess (``python -m benchmarks.memory CASE PATH``) that prints
its RSS after imports and its peak RSS; the model's cost is peak minus after-imports.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .common import Row, Section, Settings, run_module, unavailable
from .procfs import proc_mb

CASES = {
    "one model": "one",
    "qwen3-rag: LangChain + LlamaIndex + pipeline, shared": "shared",
    "each user loads its own copy (3 x sentence-transformers)": "separate",
}
TEXTS = ["The quick brown fox.", "Retrieval augmented generation.", "A vector database."]


def _probe(case: str, path: str) -> dict[str, float]:
    import torch  # noqa: F401  (imports count as the baseline, not as the model)
    import transformers  # noqa: F401

    from qwen3_rag import Qwen3Embedder

    if case == "shared":
        import langchain_qwen3_rag  # noqa: F401
        import llama_index.embeddings.qwen3_rag  # noqa: F401

        import qwen3_rag.pipeline  # noqa: F401
    if case == "separate":
        import sentence_transformers  # noqa: F401
    base = proc_mb("VmRSS")
    if case == "one":
        Qwen3Embedder.load(path, device="cpu", dtype="float32").embed_documents(TEXTS)
    elif case == "shared":
        from langchain_qwen3_rag import Qwen3Embeddings
        from llama_index.embeddings.qwen3_rag import Qwen3Embedding

        from qwen3_rag.pipeline import Ingestor, QdrantStore

        Qwen3Embeddings(model=path, device="cpu", dtype="float32").embed_documents(TEXTS)
        Qwen3Embedding(model_name=path, device="cpu", dtype="float32").get_text_embedding_batch(TEXTS)
        emb = Qwen3Embedder.load(path, device="cpu", dtype="float32")
        Ingestor(QdrantStore("mem", location=":memory:"), emb, progress=False)
        emb.embed_documents(TEXTS)
    elif case == "separate":
        from .contenders import sentence_transformer_embedder

        keep = [sentence_transformer_embedder(path) for _ in range(3)]
        for model in keep:
            model.encode(TEXTS)
    # VmHWM, not ru_maxrss: that can carry the parent's peak across exec
    return {"base_mb": base, "peak_mb": proc_mb("VmHWM")}


def run(settings: Settings) -> Section:
    root = Path(__file__).resolve().parent.parent
    section = Section(
        "memory", "Memory: peak RSS of one process (embedding model, fp32)", baseline="one model", unit="MB"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    for name, case in CASES.items():
        proc = run_module(
            "benchmarks.memory", [case, settings.paths["embedding"]], env=env, timeout=900, cwd=root
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            section.notes.append(f"not available: {name}: {last}")
            continue
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        cost = data["peak_mb"] - data["base_mb"]
        section.rows.append(Row(name, cost, 1, 0, extra=data))
    if not section.rows:
        return unavailable("memory", section.title, "; ".join(section.notes))
    return section


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1], sys.argv[2])))
