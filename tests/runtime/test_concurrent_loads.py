"""Two models loading at once in two threads of a fresh process (the CLI loads the embedder and
reranker together). This failed with ``ImportError: cannot import name 'AutoModel'`` and with
``Cannot copy out of meta tensor`` before transformers' lazy names and ``from_pretrained`` went
through locks (:mod:`qwen3_rag._runtime.transformers_names`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.models

SCRIPT = """
import sys, threading
from qwen3_rag import Qwen3Embedder, Qwen3Reranker
start = threading.Barrier(2)
errors = []
def load(cls, path):
    start.wait()
    try:
        cls.load(path, device="cpu", dtype="float32")
    except BaseException as exc:
        errors.append(repr(exc))
pairs = ((Qwen3Embedder, sys.argv[1]), (Qwen3Reranker, sys.argv[2]))
threads = [threading.Thread(target=load, args=pair) for pair in pairs]
for t in threads: t.start()
for t in threads: t.join()
print(errors)
"""


@pytest.mark.parametrize("attempt", range(3))  # a race: a few fresh processes, each must load both
def test_an_embedder_and_a_reranker_load_at_once_in_a_fresh_process(
    tiny_embedding_path: str, tiny_reranker_path: str, attempt: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, tiny_embedding_path, tiny_reranker_path],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-3000:]
