"""Texts the model tests share: the five about Paris and others that adapters embed and rerank
against one question, a long document for truncation, and the short texts the servers are sent."""

from __future__ import annotations

TEXTS = [
    "Paris is the capital and largest city of France.",
    "Bananas are yellow.",
    "Qdrant is a vector database.",
    "The quick brown fox jumps over the lazy dog.",
    "Python is a programming language.",
]
QUERY = "What is the capital of France?"
LONG = " ".join(f"word{i}" for i in range(300)) + " Paris is the capital of France."

SERVED_TEXTS = ["Paris is the capital of France.", "Bananas are yellow.", "", "Qdrant is a vector database."]
