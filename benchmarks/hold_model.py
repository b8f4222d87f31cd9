"""``python -m benchmarks.hold_model MODEL DTYPE [BASE_URL]``: one worker of the serving suite's memory
rows. It loads the embedding model (or, with ``BASE_URL``, the remote backend to a server), embeds a
few texts, prints ``ready`` and holds everything until its standard input closes, so that the parent
measures every worker while all are alive. Its top imports only the standard library: the worker's
memory is qwen3-rag's, not the suite's."""

from __future__ import annotations

import sys

TEXTS = ["The quick brown fox.", "Retrieval augmented generation.", "A vector database."] * 4


def main(model: str, dtype: str, base_url: str = "") -> None:
    from qwen3_rag import Qwen3Embedder

    embedder = (
        Qwen3Embedder.load(model, base_url=base_url)
        if base_url
        else Qwen3Embedder.load(model, device="cpu", dtype=dtype)
    )
    embedder.embed_documents(TEXTS)
    print("ready", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main(*sys.argv[1:])
