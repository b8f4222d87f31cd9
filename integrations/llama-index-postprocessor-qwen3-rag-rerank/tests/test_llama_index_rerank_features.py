"""Issue 12 §1 through the LlamaIndex postprocessor: ``min_score``, ``relevance_logit`` (kept out
of the LLM and embedding text), ``long_documents``, a converted sequence-classification
checkpoint, and a float16 reranker whose overflowing row is recomputed in float32."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.postprocessor.qwen3_rag_rerank import Qwen3Rerank

from integrations.tests.adapter_support import nan_rows_of_text_in_float16
from qwen3_rag import InvalidOptionError, Qwen3Reranker
from qwen3_rag.testing import convert_reranker_to_sequence_classifier
from tests.support.texts import LONG, QUERY, TEXTS

pytestmark = pytest.mark.models  # every test here builds or loads a model


def _nodes(texts: list[str] = TEXTS) -> list[NodeWithScore]:
    return [NodeWithScore(node=TextNode(id_=f"n{i}", text=t), score=0.1 * i) for i, t in enumerate(texts)]


def test_min_score_and_logits(reranker: Qwen3Reranker) -> None:
    ranked = reranker.rank(QUERY, TEXTS)
    threshold = ranked[2].score
    rerank = Qwen3Rerank(reranker, top_n=5, min_score=threshold)
    out = rerank.postprocess_nodes(_nodes(), query_str=QUERY)
    assert [n.node.node_id for n in out] == [f"n{r.index}" for r in ranked[:3]]
    assert [n.score for n in out] == [r.score for r in ranked[:3]]
    assert [n.node.metadata["relevance_logit"] for n in out] == [r.logit for r in ranked[:3]]
    for n in out:
        assert abs(1 / (1 + math.exp(-n.node.metadata["relevance_logit"])) - (n.score or 0)) <= 1e-6
        assert "relevance_logit" not in n.node.get_content(metadata_mode=MetadataMode.LLM)
        assert "relevance_logit" not in n.node.get_content(metadata_mode=MetadataMode.EMBED)
    again = asyncio.run(rerank.apostprocess_nodes(_nodes(), query_bundle=QueryBundle(QUERY)))
    assert [(n.node.node_id, n.score) for n in again] == [(n.node.node_id, n.score) for n in out]
    assert (
        len(Qwen3Rerank(reranker, top_n=2, min_score=threshold).postprocess_nodes(_nodes(), query_str=QUERY))
        == 2
    )
    assert Qwen3Rerank(reranker, min_score=1.0).postprocess_nodes(_nodes(), query_str=QUERY) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Qwen3Rerank(reranker, min_score=-0.1)


def test_long_documents(reranker: Qwen3Reranker) -> None:
    windowed = Qwen3Rerank(reranker, top_n=2, max_length=120, long_documents="max_window")
    assert windowed.reranker.long_documents == "max_window"
    out = windowed.postprocess_nodes(_nodes([TEXTS[1], LONG]), query_str=QUERY)
    expected = reranker.with_options(max_length=120, long_documents="max_window").score(
        QUERY, [TEXTS[1], LONG]
    )
    assert {n.node.node_id: n.score for n in out} == {"n0": expected[0], "n1": expected[1]}
    with pytest.raises(InvalidOptionError, match="long_documents"):
        Qwen3Rerank(reranker, long_documents="chunks")


def test_a_converted_checkpoint(reranker: Qwen3Reranker, tiny_reranker_path: str, tmp_path: Path) -> None:
    converted = convert_reranker_to_sequence_classifier(tiny_reranker_path, tmp_path / "seq-cls")
    out = Qwen3Rerank(str(converted), device="cpu", dtype="float32", top_n=5).postprocess_nodes(
        _nodes(), query_str=QUERY
    )
    expected = reranker.rank(QUERY, TEXTS)
    assert [n.node.node_id for n in out] == [f"n{r.index}" for r in expected]
    assert [n.score for n in out] == pytest.approx([r.score for r in expected], abs=1e-5)


def test_float16_overflowing_row_recomputed_in_float32(
    tiny_reranker_path: str, reranker: Qwen3Reranker
) -> None:
    rerank = Qwen3Rerank(tiny_reranker_path, device="cpu", dtype="float16", top_n=5)
    handle = nan_rows_of_text_in_float16(rerank.reranker, TEXTS, 1)
    try:
        out = rerank.postprocess_nodes(_nodes(), query_str=QUERY)
    finally:
        handle.remove()
    banana = next(n for n in out if n.node.node_id == "n1").score
    assert banana is not None and math.isfinite(banana)
    assert banana == pytest.approx(reranker.score(QUERY, [TEXTS[1]])[0], abs=1e-2)
