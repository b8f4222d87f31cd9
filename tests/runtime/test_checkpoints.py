"""Reading checkpoints without loading them: Hub ids, safetensors names and rows, kind mismatches."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from qwen3_rag import ModelLoadError, Qwen3Embedder, WrongModelKindError
from qwen3_rag._runtime import checkpoints
from qwen3_rag._runtime.checkpoints import _is_hub_id, _rows, _safetensors_keys, _tensor_file, detect_kind


@pytest.mark.parametrize(
    ("name", "hub"),
    [
        ("Qwen/Qwen3-Embedding-0.6B", True),
        ("my-org/model_v2.1", True),
        ("Qwen3-Embedding-0.6B", False),  # no owner: a local folder (the Hub's legacy ids are not Qwen3)
        ("./models/Qwen3", False),
        ("../Qwen3", False),
        ("/models/Qwen3-Embedding-0.6B", False),
        ("~/models", False),
        ("models/Qwen3/snapshot", False),
        ("Qwen/..", False),
        ("Qwen/a--b", False),
        ("Qwen/model.git", False),
        ("C:\\models\\Qwen3", False),
        ("", False),
    ],
)
def test_hub_ids_are_what_huggingface_hub_accepts_with_an_owner(name: str, hub: bool) -> None:
    assert _is_hub_id(name) is hub


def test_a_missing_one_word_folder_is_a_local_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError, match="no folder at"):
        checkpoints.resolve_checkpoint("Qwen3-Embedding-0.6B")


def _split(source: Path, target: Path, *, index: bool) -> None:
    """``source`` with its weights in two files (with or without an index)."""
    shutil.copytree(source, target)
    weights = load_file(target / "model.safetensors")
    (target / "model.safetensors").unlink()
    names = sorted(weights)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, keys in halves.items():
        save_file({k: weights[k] for k in keys}, target / file, metadata={"format": "pt"})
    if index:
        weight_map = {k: file for file, keys in halves.items() for k in keys}
        (target / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize("index", [False, True], ids=["files", "index"])
def test_names_and_rows_come_from_any_layout(tiny_reranker_path: str, tmp_path: Path, index: bool) -> None:
    single = Path(tiny_reranker_path)
    weights = load_file(single / "model.safetensors")
    assert sorted(_safetensors_keys(single)) == sorted(weights)

    split = tmp_path / "split"
    _split(single, split, index=index)
    assert sorted(_safetensors_keys(split)) == sorted(weights)
    assert detect_kind(split) == detect_kind(single) == "reranker"
    key = "model.embed_tokens.weight"
    assert _tensor_file(split, key) is not None and _tensor_file(split, "nothing") is None
    rows = _rows(split, key, [7, 3, 7])
    assert torch.equal(rows, weights[key][[7, 3, 7]].float())
    assert torch.equal(_rows(split, "model.norm.weight"), weights["model.norm.weight"].float())
    assert _rows(split, "score.weight") is None


def test_an_embedding_checkpoint_is_told_by_its_names(tiny_embedding_path: str) -> None:
    assert detect_kind(Path(tiny_embedding_path)) == "embedding"


def test_another_model_type_is_refused(tiny_embedding_path: str, tmp_path: Path) -> None:
    other = tmp_path / "bert"
    shutil.copytree(tiny_embedding_path, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(WrongModelKindError, match="Qwen3 checkpoints only") as info:
        Qwen3Embedder.load(str(other))
    assert (info.value.expected, info.value.found) == ("qwen3", "bert")


def test_mismatch_fields_survive_pickling() -> None:
    error = WrongModelKindError("a reranker", expected="embedding", found="reranker")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.expected, copy.found) == ("a reranker", "embedding", "reranker")
