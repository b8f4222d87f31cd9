"""The layout of a qwen3-rag collection, defined once: vector names, payload keys, point ids.

Every chunk is one point: a ``dense`` vector (the Qwen3 embedding), a ``sparse`` vector (Qwen
tokenizer terms, see :mod:`.sparse`), and a payload of :data:`CHUNK_FIELDS`, plus
``page_start``, ``page_end`` and ``headings`` (:mod:`.provenance`) when its document has pages or
headings, ``metadata`` (the user's metadata, one JSON object, nested so it never collides with these
keys) when it has any, and ``tenant`` when it belongs to one. Its id is
``uuid5(source_key(source, tenant), chunk_index)``, so re-ingesting a file addresses the same points;
without a tenant the key is the source itself, as it always was.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._naming import to_bytes
from ._provenance import Provenance

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"
TEXT = "text"
SOURCE = "source"
CHUNK_INDEX = "chunk_index"
CONTENT_HASH = "content_hash"
CHUNK_FIELDS = (TEXT, SOURCE, CHUNK_INDEX, CONTENT_HASH)
"""The payload of every chunk point."""
METADATA = "metadata"
"""The user's metadata of a chunk's document: one JSON object (absent when there is none)."""
TENANT = "tenant"
"""The tenant a chunk belongs to (absent when none): Qdrant's multitenancy, one collection."""

# Fixed forever: changing it would change every point id and orphan existing collections.
POINT_NAMESPACE = uuid.UUID("6f1c3b1e-5d0a-5b8e-9a57-2c7e3f0b9d41")


def point_id(source: str, chunk_index: int) -> str:
    """The deterministic id of chunk ``chunk_index`` of ``source``; never raises.

    ``uuid5`` of the UTF-8 bytes of ``source NUL index``; a ``source`` holding lone surrogates
    (a file name that is not UTF-8, as Python decodes it) is hashed by the bytes they stand for
    (:func:`~._naming.to_bytes`), so every string has one stable id and valid ones keep theirs.
    """
    name = to_bytes(f"{source}\x00{chunk_index}")
    return str(uuid.UUID(bytes=hashlib.sha1(POINT_NAMESPACE.bytes + name).digest()[:16], version=5))


def source_key(source: str, tenant: str | None = None) -> str:
    """The key of a source in the registry and its point ids: ``source``, or ``tenant NUL source``.

    Two tenants' documents with the same id get different keys, so they never share points; a
    source without a tenant keeps the key (and point ids) it always had. Neither part may hold a
    NUL (:func:`~._source_documents.check_name`), so no two pairs share a key.
    """
    return source if tenant is None else f"{tenant}\x00{source}"


def chunk_point_id(source: str, chunk_index: int, tenant: str | None = None) -> str:
    """The point id of chunk ``chunk_index`` of ``source`` (of ``tenant``): what every writer uses."""
    return point_id(source_key(source, tenant), chunk_index)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_payload(
    source: str,
    chunk_index: int,
    text: str,
    digest: str | None = None,
    provenance: Provenance | None = None,
    metadata: Mapping[str, Any] | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        TEXT: text,
        SOURCE: source,
        CHUNK_INDEX: chunk_index,
        CONTENT_HASH: digest if digest is not None else content_hash(text),
    }
    if provenance is not None:
        payload.update(provenance.to_payload())
    if metadata:
        payload[METADATA] = dict(metadata)
    if tenant is not None:
        payload[TENANT] = tenant
    return payload


def payload_key(payload: Mapping[str, Any]) -> str:
    """The :func:`source_key` of a chunk payload."""
    tenant = payload.get(TENANT)
    return source_key(str(payload[SOURCE]), None if tenant is None else str(tenant))


@dataclass(frozen=True)
class Hit:
    """One search result from the store: the point's id, its first-stage score and payload."""

    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_point(cls, point: Any) -> Hit:
        return cls(id=str(point.id), score=float(point.score), payload=dict(point.payload or {}))

    @property
    def text(self) -> str:
        return read_text(self.payload)

    @property
    def source(self) -> str:
        return read_source(self.payload)

    @property
    def chunk_index(self) -> int:
        return int(self.payload.get(CHUNK_INDEX, 0))

    @property
    def provenance(self) -> Provenance:
        return Provenance.from_payload(self.payload)

    @property
    def metadata(self) -> dict[str, Any]:
        return read_metadata(self.payload)


# Collections written by the frameworks' own Qdrant stores keep the text elsewhere: LangChain's
# QdrantVectorStore under ``page_content`` (metadata nested under ``metadata``), LlamaIndex's inside
# the ``_node_content`` JSON (metadata flat). Reading them too lets our retriever rerank those.
_LANGCHAIN_TEXT, _LANGCHAIN_METADATA, _LLAMA_INDEX_NODE = "page_content", "metadata", "_node_content"


def read_text(payload: Mapping[str, Any] | None) -> str:
    """A point's text: ours (``text``), else a LangChain or LlamaIndex store's; ``""`` if none."""
    payload = payload or {}
    if TEXT in payload:
        return str(payload[TEXT])
    if _LANGCHAIN_TEXT in payload:
        return str(payload[_LANGCHAIN_TEXT])
    node = payload.get(_LLAMA_INDEX_NODE)
    if isinstance(node, str):
        try:
            return str(json.loads(node).get("text", ""))
        except (ValueError, AttributeError):
            return ""
    return ""


def read_source(payload: Mapping[str, Any] | None) -> str:
    """A point's source: ours (flat, as LlamaIndex's), else LangChain's nested ``metadata.source``."""
    payload = payload or {}
    if SOURCE in payload:
        return str(payload[SOURCE])
    metadata = payload.get(_LANGCHAIN_METADATA)
    return str(metadata.get(SOURCE, "")) if isinstance(metadata, Mapping) else ""


def read_metadata(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """A point's user metadata: ours and LangChain's (nested ``metadata``); ``{}`` if none."""
    metadata = (payload or {}).get(METADATA)
    return dict(metadata) if isinstance(metadata, Mapping) else {}
