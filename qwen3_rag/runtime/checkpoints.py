"""Finding a checkpoint (local folder or Hugging Face id) and telling embedder from reranker."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Literal

from ..errors import ModelLoadError, WrongModelKindError

ModelKind = Literal["embedding", "reranker"]

_LOCAL_HINT = (
    "To use a local copy, pass the folder that holds config.json and the weights, e.g. "
    "Qwen3Embedder.load('/models/Qwen3-Embedding-0.6B'); to fetch it on a connected machine run "
    "`huggingface-cli download {name}`. For an offline smoke test, "
    "`python -m qwen3_rag.testing DIR` writes tiny checkpoints."
)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def looks_like_hub_id(name: str) -> bool:
    """``owner/name`` with no path syntax; anything else is taken as a local path."""
    return bool(_HUB_ID.fullmatch(name)) and ".." not in name


def resolve_checkpoint(name: str | os.PathLike[str]) -> Path:
    """Return the local folder of ``name``: an existing folder, or a Hub snapshot (downloaded once)."""
    text = os.fspath(name)
    candidate = Path(text).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise ModelLoadError(
                f"Model folder {str(candidate)!r} has no config.json, so it is not a Hugging Face "
                "checkpoint. " + _LOCAL_HINT.format(name=text)
            )
        return candidate.resolve()
    if not looks_like_hub_id(text):
        raise ModelLoadError(
            f"Model {text!r}: no folder at {str(candidate.resolve())!r}. " + _LOCAL_HINT.format(name=text)
        )
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(text)
    except Exception as exc:  # the hub client raises many kinds; all mean "not available here"
        raise ModelLoadError(
            f"Model {text!r}: not a local folder, and the Hugging Face Hub could not provide it "
            f"({type(exc).__name__}: {exc}). Looked in the current directory and in the Hub cache "
            f"({os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME') or '~/.cache/huggingface'}). "
            + _LOCAL_HINT.format(name=text)
        ) from exc
    return Path(folder)


def _safetensors_keys(folder: Path) -> list[str]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return list(json.loads(index.read_text())["weight_map"])
    keys: list[str] = []
    for file in sorted(folder.glob("*.safetensors")):
        with file.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_len))
        keys.extend(k for k in header if k != "__metadata__")
    return keys


def detect_kind(folder: Path) -> ModelKind | None:
    """Guess what a checkpoint is from its files; ``None`` when nothing tells.

    Qwen3-Embedding is published as a bare ``Qwen3Model`` (weights without a ``model.`` prefix,
    sentence-transformers pooling files); Qwen3-Reranker as ``Qwen3ForCausalLM`` (weights under
    ``model.``, sometimes ``lm_head``). Both configs name ``Qwen3ForCausalLM``, so the config
    alone cannot tell them apart.
    """
    config = json.loads((folder / "config.json").read_text())
    if any("SequenceClassification" in a for a in config.get("architectures") or []):
        return "reranker"
    if (folder / "modules.json").is_file() and (folder / "1_Pooling").is_dir():
        return "embedding"
    keys = _safetensors_keys(folder)
    if not keys:
        return None
    if any(k.startswith("lm_head.") for k in keys) or all(k.startswith("model.") for k in keys):
        return "reranker"
    return "embedding"


def check_kind(folder: Path, name: str, wanted: ModelKind) -> None:
    """Raise :class:`WrongModelKindError` when ``folder`` holds the other kind of model."""
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") not in ("qwen3", None):
        raise WrongModelKindError(
            f"Model {name!r} is a {config.get('model_type')!r} model; qwen3-rag runs Qwen3 "
            "checkpoints only (Qwen/Qwen3-Embedding-* and Qwen/Qwen3-Reranker-*)."
        )
    found = detect_kind(folder)
    if found is None or found == wanted:
        return
    if wanted == "embedding":
        raise WrongModelKindError(
            f"Model {name!r} is a reranker checkpoint (a causal LM), not an embedding model. "
            "Load it with Qwen3Reranker.load(...), and use a Qwen/Qwen3-Embedding-* model for "
            "Qwen3Embedder."
        )
    if any("SequenceClassification" in a for a in config.get("architectures") or []):
        raise WrongModelKindError(
            f"Model {name!r} is a sequence-classification conversion; its head is not the "
            "official yes/no readout. Use the original Qwen/Qwen3-Reranker-* checkpoint."
        )
    raise WrongModelKindError(
        f"Model {name!r} is an embedding checkpoint, not a reranker. Load it with "
        "Qwen3Embedder.load(...), and use a Qwen/Qwen3-Reranker-* model for Qwen3Reranker."
    )


def checkpoint_fingerprint(folder: Path) -> str:
    """A short digest of the weights' identity, the same wherever the files were copied to.

    Hashes config.json and, per weight file, its size and its first and last MiB (headers,
    embeddings and final norms): cheap on multi-GB files, and different for any two trainings.
    Stored with a collection so vectors of two models never mix even when folder names agree.
    """
    digest = hashlib.sha256((folder / "config.json").read_bytes())
    for file in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with file.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            handle.seek(max(0, size - (1 << 20)))
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:16]
