"""Finding a checkpoint (local folder or Hugging Face id) and telling embedder from reranker."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from .._errors import ModelLoadError, WrongModelKindError

ModelKind = Literal["embedding", "reranker"]

_LOCAL_HINT = (
    "To use a local copy, pass the folder that holds config.json and the weights, e.g. "
    "Qwen3Embedder.load('/models/Qwen3-Embedding-0.6B'); to fetch it on a connected machine run "
    "`hf download {name}`. For an offline smoke test, "
    "`python -m qwen3_rag.testing DIR` writes tiny checkpoints."
)
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)
"""What a client that only tokenizes needs of a checkpoint (a remote model tokenizes here)."""


def _is_hub_id(name: str) -> bool:
    """``owner/name`` as the Hub's own validator accepts it; anything else is a local path.

    ``validate_repo_id`` also accepts a bare ``name`` (the Hub's legacy owner-less ids such as
    ``gpt2``); we require the owner, so a missing one-word folder stays a "no folder" error
    (every Qwen3 checkpoint has an owner, and an owner-less legacy model is not a Qwen3 one).
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name.count("/") != 1:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def resolve_checkpoint(name: str | os.PathLike[str], *, files: tuple[str, ...] | None = None) -> Path:
    """Return the local folder of ``name``: an existing folder, or a Hub snapshot (downloaded once).

    ``files``: only these files of a Hub snapshot (``None``: all of it). The Hub is asked once:
    unreachable (offline, no DNS) is an error at once, not minutes of retries.
    """
    text = os.fspath(name)
    candidate = Path(text).expanduser()
    if candidate.is_dir():
        if files is None and not (candidate / "config.json").is_file():
            raise ModelLoadError(
                f"Model folder {str(candidate)!r} has no config.json, so it is not a Hugging Face "
                "checkpoint. " + _LOCAL_HINT.format(name=text),
                model=text,
                reason="not_a_checkpoint",
            )
        return candidate.resolve()
    if not _is_hub_id(text):
        raise ModelLoadError(
            f"Model {text!r}: no folder at {str(candidate.resolve())!r}. " + _LOCAL_HINT.format(name=text),
            model=text,
            reason="not_found",
        )
    try:
        from huggingface_hub import snapshot_download

        folder = snapshot_download(text, allow_patterns=list(files) if files else None)
    except Exception as exc:  # the hub client raises many kinds; all mean "not available here"
        raise ModelLoadError(
            f"Model {text!r}: not a local folder, and the Hugging Face Hub could not provide it "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}). Looked in the current directory "
            "and in the Hub cache "
            f"({os.environ.get('HF_HUB_CACHE') or os.environ.get('HF_HOME') or '~/.cache/huggingface'}). "
            + _LOCAL_HINT.format(name=text),
            model=text,
            reason="hub_unavailable",
        ) from exc
    return Path(folder)


def _file_keys(file: Path) -> list[str]:
    """Tensor names of one safetensors file: its header only (the file is mapped, not read)."""
    from safetensors import safe_open

    with safe_open(str(file), framework="numpy") as handle:
        return list(handle.keys())


def _safetensors_keys(folder: Path) -> list[str]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return list(json.loads(index.read_text())["weight_map"])
    return [key for file in sorted(folder.glob("*.safetensors")) for key in _file_keys(file)]


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
            "checkpoints only (Qwen/Qwen3-Embedding-* and Qwen/Qwen3-Reranker-*).",
            expected="qwen3",
            found=config.get("model_type"),
        )
    found = detect_kind(folder)
    if found is None or found == wanted:
        return
    if wanted == "embedding":
        raise WrongModelKindError(
            f"Model {name!r} is a reranker checkpoint (a causal LM), not an embedding model. "
            "Load it with Qwen3Reranker.load(...), and use a Qwen/Qwen3-Embedding-* model for "
            "Qwen3Embedder.",
            expected=wanted,
            found=found,
            model=name,
        )
    raise WrongModelKindError(
        f"Model {name!r} is an embedding checkpoint, not a reranker. Load it with "
        "Qwen3Embedder.load(...), and use a Qwen/Qwen3-Reranker-* model for Qwen3Reranker.",
        expected=wanted,
        found=found,
        model=name,
    )


def is_sequence_classification(folder: Path) -> bool:
    """Whether the config names a sequence-classification architecture."""
    config = json.loads((folder / "config.json").read_text())
    return any("SequenceClassification" in a for a in config.get("architectures") or [])


_HEAD = "score.weight"
_EMBEDDINGS = ("model.embed_tokens.weight", "embed_tokens.weight")
HEAD_TOLERANCE = 0.02
"""Relative difference allowed between a converted head and yes-minus-no of the tied embeddings
(the conversion subtracts in the checkpoint's bf16; a different head differs by ~100%)."""


def _tensor_file(folder: Path, key: str) -> Path | None:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        file = json.loads(index.read_text())["weight_map"].get(key)
        return folder / file if file else None
    return next((file for file in sorted(folder.glob("*.safetensors")) if key in _file_keys(file)), None)


def _rows(folder: Path, key: str, rows: list[int] | None = None) -> Any:
    """Tensor ``key`` (or some of its rows) as float32, or ``None`` when no weight file holds it.

    ``get_slice`` reads only the rows asked for from the mapped file: checking a head never
    loads the embedding matrix (0.3 GB on the 0.6B, 0.8 GB on the 4B), let alone the checkpoint.
    """
    from safetensors import safe_open

    file = _tensor_file(folder, key)
    if file is None:
        return None
    with safe_open(str(file), framework="pt") as handle:
        if rows is None:
            return handle.get_tensor(key).float()
        part = handle.get_slice(key)
        import torch

        return torch.cat([part[r : r + 1] for r in rows]).float()


def check_sequence_classifier(folder: Path, name: str, tokenizer: Any) -> None:
    """Refuse a sequence-classification checkpoint that is not a Qwen3-Reranker conversion.

    The conversion people use (``Qwen3ForSequenceClassification``, ``num_labels=1``) has one head
    row ``w = lm_head[yes] - lm_head[no]``, so its logit is ``logit(yes) - logit(no)`` and
    ``sigmoid`` of it is the official P(yes). Checked: the architecture is Qwen3's, there is one
    label, the weights hold that head (else transformers would initialise it randomly), and,
    where the input embeddings are tied to the LM head (0.6B, 4B), that the head equals
    ``embed[yes] - embed[no]``. An untied checkpoint (8B) has no LM head left to compare with:
    there a one-logit head is trusted to be yes-minus-no.
    """
    config = json.loads((folder / "config.json").read_text())
    architectures = config.get("architectures") or []
    fix = (
        "qwen3-rag reranks with Qwen/Qwen3-Reranker-* (the causal LM) or its one-logit "
        "sequence-classification conversion (head = the 'yes' row minus the 'no' row of the LM head)."
    )
    if "Qwen3ForSequenceClassification" not in architectures:
        raise WrongModelKindError(
            f"Model {name!r} is a {', '.join(architectures)} classifier, not a Qwen3 one. {fix}",
            expected="Qwen3ForSequenceClassification",
            found=", ".join(architectures),
        )
    labels = len(config["id2label"]) if config.get("id2label") else config.get("num_labels", 2)
    if labels != 1:
        raise WrongModelKindError(
            f"Model {name!r} is a sequence classifier with {labels} labels; a conversion of "
            f"Qwen3-Reranker has exactly one (the yes-minus-no log-odds), so this is another "
            f"classifier and its scores would not be Qwen3-Reranker's. {fix}",
            expected=1,
            found=labels,
        )
    head = _rows(folder, _HEAD)
    hidden = config.get("hidden_size")
    if head is None or tuple(head.shape) != (1, hidden):
        found = "no score.weight" if head is None else f"score.weight of shape {tuple(head.shape)}"
        raise WrongModelKindError(
            f"Model {name!r} has {found} in its weights, not the (1, {hidden}) head of a converted "
            f"Qwen3-Reranker; loading it would give a randomly initialised head. {fix}",
            expected=(1, hidden),
            found=None if head is None else tuple(head.shape),
        )
    if not config.get("tie_word_embeddings", False):
        return  # no LM head to compare with: a one-logit head is trusted as yes-minus-no
    yes, no = (int(tokenizer.convert_tokens_to_ids(t)) for t in ("yes", "no"))
    embeddings = next(
        (rows for key in _EMBEDDINGS if (rows := _rows(folder, key, [yes, no])) is not None), None
    )
    if embeddings is None:
        return
    expected = embeddings[0] - embeddings[1]
    difference = float((head[0] - expected).norm() / expected.norm().clamp_min(1e-12))
    if difference > HEAD_TOLERANCE:
        raise WrongModelKindError(
            f"Model {name!r} is a one-label Qwen3 classifier, but its head is not the 'yes' row minus "
            f"the 'no' row of its (tied) LM head (relative difference {difference:.2f}): it was "
            f"trained or made some other way, and its scores would not be Qwen3-Reranker's. {fix}",
            expected=HEAD_TOLERANCE,  # the largest relative difference from yes-minus-no allowed
            found=difference,
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
