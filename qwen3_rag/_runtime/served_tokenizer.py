"""A served model's tokenizer, taken from the server that runs it.

A remote model still tokenizes on the client (that is how the Qwen3 procedure stays exact), so
the client needs the model's tokenizer files. ``qwen3-rag serve`` hands out the files of the
checkpoint it loaded (``GET /v1/tokenizer?model=ID``) with a digest over them; the client checks
the digest and loads them, so it needs neither the Hub nor a local copy. Nothing is written
outside a temporary folder: a process fetches the files once (about 11 MB for the real Qwen3
vocabulary) and keeps the tokenizer in memory.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._errors import RemoteBackendError
from .checkpoints import TOKENIZER_FILES
from .transformers_names import transformers_names

TOKENIZER_PATH = "tokenizer"
"""The route under the server's ``/v1``."""


def bundle_digest(files: Mapping[str, str]) -> str:
    """sha256 over the files' names and contents, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        for part in (name, files[name]):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


def tokenizer_bundle(folder: Path, model: str) -> dict[str, Any]:
    """What the server answers for a model loaded from ``folder``: its tokenizer files and digest."""
    files = {
        name: (folder / name).read_text(encoding="utf-8")
        for name in TOKENIZER_FILES
        if (folder / name).is_file()
    }
    return {"model": model, "files": files, "digest": bundle_digest(files)}


def fetch_tokenizer(http: Any, served_id: str) -> Any:
    """The tokenizer of the model the server at ``http`` serves as ``served_id``.

    ``None`` when the server has no tokenizer route (an older server, vLLM): the caller then
    finds the files as for a local model.
    """
    try:
        answer = http.request("GET", f"{TOKENIZER_PATH}?model={quote(served_id, safe='')}")
    except RemoteBackendError as exc:
        if exc.status == 404:
            return None
        raise
    url = http.url(TOKENIZER_PATH)
    files = answer.get("files") if isinstance(answer, dict) else None
    if (
        not isinstance(files, dict)
        or "tokenizer.json" not in files
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise RemoteBackendError(
            f"The server at {http.base_url} answered its tokenizer for {served_id!r} in an unknown shape "
            "(no tokenizer.json); is it a qwen3-rag server of this version?",
            url=url,
        )
    if set(files) - set(TOKENIZER_FILES) or answer.get("digest") != bundle_digest(files):
        raise RemoteBackendError(
            f"The tokenizer files the server at {http.base_url} sent for {served_id!r} do not match "
            "their digest (damaged in transit, or not the files it says); nothing was loaded.",
            url=url,
        )
    (fast,) = transformers_names(
        "PreTrainedTokenizerFast", module="transformers.tokenization_utils_tokenizers"
    )
    with tempfile.TemporaryDirectory(prefix="qwen3-rag-tokenizer-") as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        return fast.from_pretrained(folder)
