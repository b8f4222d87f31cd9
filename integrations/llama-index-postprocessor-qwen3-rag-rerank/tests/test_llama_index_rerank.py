"""Qwen3Rerank for LlamaIndex: node scores equal the runtime's, events, errors, native async."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_index.postprocessor.qwen3_rag_rerank as package
import pytest
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.postprocessor.qwen3_rag_rerank import Qwen3Rerank

from integrations.tests.adapter_support import assert_pep420_layout, forbid_sync_calls
from qwen3_rag import InvalidOptionError, Qwen3Reranker
from tests.support.texts import QUERY, TEXTS

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class _Recorder(BaseEventHandler):
    events: list[BaseEvent]

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, ReRankStartEvent | ReRankEndEvent):
            self.events.append(event)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    handler = _Recorder(events=[])
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        yield handler
    finally:
        root.event_handlers.remove(handler)


@pytest.fixture(scope="module")
def reranker(tiny_reranker_path: str) -> Qwen3Reranker:
    return Qwen3Reranker.load(tiny_reranker_path)


@pytest.fixture(scope="module")
def rerank(tiny_reranker_path: str) -> Qwen3Rerank:
    return Qwen3Rerank(model=tiny_reranker_path, top_n=3)


def _nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=t, id_=f"node-{i}", metadata={"n": i}), score=1.0 - i / 10)
        for i, t in enumerate(TEXTS)
    ]


def _expected(reranker: Qwen3Reranker, nodes: list[NodeWithScore], top_n: int) -> list[tuple[str, float]]:
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    scores = reranker.score(QUERY, texts)
    order = sorted(range(len(nodes)), key=scores.__getitem__, reverse=True)[:top_n]
    return [(nodes[i].node.node_id, scores[i]) for i in order]


def test_public_api_is_pinned() -> None:
    assert package.__all__ == ["Qwen3Rerank"]
    assert issubclass(Qwen3Rerank, BaseNodePostprocessor)
    assert Qwen3Rerank.class_name() == "Qwen3Rerank"


def test_pep420_namespace_packages() -> None:
    assert_pep420_layout(PACKAGE_ROOT, package, "postprocessor")


def test_defaults(rerank: Qwen3Rerank) -> None:
    fields = Qwen3Rerank.model_fields
    assert fields["top_n"].default == 3
    assert fields["instruction"].default is None
    assert fields["keep_retrieval_score"].default is False
    assert all(field.description for field in fields.values() if field.description is not None)


def test_scores_equal_runtime_sorted_top_n(rerank: Qwen3Rerank, reranker: Qwen3Reranker) -> None:
    nodes = _nodes()
    expected = _expected(reranker, nodes, 3)
    out = rerank.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    assert [(n.node.node_id, n.score) for n in out] == expected
    assert all("retrieval_score" not in n.node.metadata for n in out)


def test_query_str_and_instruction(tiny_reranker_path: str, reranker: Qwen3Reranker) -> None:
    task = "Given a question, retrieve Wikipedia passages that answer the question"
    out = Qwen3Rerank(model=tiny_reranker_path, top_n=5, instruction=task).postprocess_nodes(
        _nodes(), query_str=QUERY
    )
    texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in _nodes()]
    assert texts[0].endswith(TEXTS[0]) and "n: 0" in texts[0], "metadata is part of what is scored"
    ids = [f"node-{i}" for i in range(5)]
    scores = dict(zip(ids, reranker.score(QUERY, texts, instruction=task), strict=True))
    assert [n.score for n in out] == sorted(scores.values(), reverse=True)
    assert all(n.score == scores[n.node.node_id] for n in out)


def test_keep_retrieval_score(tiny_reranker_path: str) -> None:
    nodes = _nodes()
    retrieval = {n.node.node_id: n.score for n in nodes}
    out = Qwen3Rerank(model=tiny_reranker_path, top_n=2, keep_retrieval_score=True).postprocess_nodes(
        nodes, query_str=QUERY
    )
    assert len(out) == 2
    assert all(n.node.metadata["retrieval_score"] == retrieval[n.node.node_id] for n in out)


def test_missing_query_is_a_clear_error(rerank: Qwen3Rerank) -> None:
    with pytest.raises(ValueError, match="needs the query"):
        rerank.postprocess_nodes(_nodes())


def test_empty_nodes(rerank: Qwen3Rerank) -> None:
    assert rerank.postprocess_nodes([], query_str=QUERY) == []


def test_rerank_events(rerank: Qwen3Rerank, recorder: _Recorder) -> None:
    out = rerank.postprocess_nodes(_nodes(), query_str=QUERY)
    start, end = recorder.events
    assert isinstance(start, ReRankStartEvent) and isinstance(end, ReRankEndEvent)
    assert start.top_n == 3 and start.model_name == rerank.model and len(start.nodes) == 5
    assert isinstance(start.query, QueryBundle) and start.query.query_str == QUERY
    assert [n.node.node_id for n in end.nodes] == [n.node.node_id for n in out]


async def test_async_is_native_and_equal(
    rerank: Qwen3Rerank, reranker: Qwen3Reranker, recorder: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _expected(reranker, _nodes(), 3)

    forbid_sync_calls(monkeypatch, Qwen3Reranker, "score")
    stats = reranker.runtime.batcher.stats
    before = stats.requests
    out = await rerank.apostprocess_nodes(_nodes(), query_str=QUERY)
    assert stats.requests == before + 1
    assert [(n.node.node_id, n.score) for n in out] == expected
    assert [type(e) for e in recorder.events] == [ReRankStartEvent, ReRankEndEvent]
    with pytest.raises(ValueError, match="needs the query"):
        await rerank.apostprocess_nodes(_nodes())


def test_accepts_loaded_reranker(reranker: Qwen3Reranker) -> None:
    adapter = Qwen3Rerank(reranker, top_n=2)
    assert adapter.reranker is reranker
    assert adapter.model == reranker.model_name
    with pytest.raises(InvalidOptionError, match="dtype"):
        Qwen3Rerank(model=reranker, dtype="float32")
    with pytest.raises(InvalidOptionError, match="quantize"):
        Qwen3Rerank(model=reranker, quantize="int8")


def test_quantize_reaches_the_runtime(tiny_reranker_path: str) -> None:
    rerank = Qwen3Rerank(model=tiny_reranker_path, device="cpu", quantize="int8")
    assert rerank.reranker.runtime.quantize == "int8"
