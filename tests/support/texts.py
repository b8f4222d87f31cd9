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

# A corpus where two texts answer QUERY (Paris, Lyon) among near misses: the end-to-end pipelines' input.
CORPUS = [
    "Paris is the capital and largest city of France.",
    "Berlin is the capital of Germany.",
    "Bananas are yellow and rich in potassium.",
    "Qdrant is a vector database written in Rust.",
    "The quick brown fox jumps over the lazy dog.",
    "Python is a programming language.",
    "Retrieval augmented generation combines a retriever with a generator.",
    "Lyon is a large city in France.",
]

# Eight files on four topics, four queries that each match some: the Qdrant interop corpus.
INTEROP_DOCS = {
    "france.txt": "Paris is the capital and largest city of France.",
    "germany.txt": "Berlin is the capital of Germany. Berlin has many museums.",
    "italy.txt": "Rome is the capital of Italy, and Italy is famous for its food.",
    "python.md": "Python is a programming language. Qdrant is a vector database.",
    "fox.txt": "The quick brown fox jumps over the lazy dog.",
    "rag.md": "Retrieval augmented generation combines a retriever with a generator.",
    "ops.md": "To rotate the API key, open Settings, then Keys, and press Rotate.",
    "tea.txt": "Green tea and black tea come from the same plant.",
}
INTEROP_QUERIES = [
    "What is the capital of France?",
    "rotate the API key",
    "capital city museums",
    "tea plant",
]

# Four files, one per topic: the retrieval tests' corpus.
RETRIEVAL_DOCS = {
    "france.txt": "Paris is the capital and largest city of France.",
    "python.md": "Python is a programming language. Qdrant is a vector database.",
    "fox.txt": "The quick brown fox jumps over the lazy dog.",
    "rag.md": "Retrieval augmented generation combines a retriever with a generator.",
}
