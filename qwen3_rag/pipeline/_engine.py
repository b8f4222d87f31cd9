"""What the store needs from a Qdrant engine, in one small interface with two implementations.

- :class:`~._engine_edge.EdgeEngine`: Qdrant Edge (``qdrant-edge-py``), Qdrant's own engine run
  in-process, for embedded folders (the default);
- :class:`~._engine_client.ClientEngine`: qdrant-client, for a server or cluster by URL, for
  ``":memory:"``, and for folders in qdrant-client's local mode (made by earlier versions).

Collections are addressed by name (a chunks collection and its ``__sources`` registry are two
names). Filters are qdrant-client ``Filter`` objects and sparse vectors qdrant-client
``SparseVector`` objects everywhere above the engines: the Edge engine converts them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ._layout import DENSE_VECTOR, SPARSE_VECTOR, Hit

PayloadKind = Literal["keyword", "integer", "float", "bool", "datetime", "tenant"]
"""Payload index types; ``"tenant"`` is a keyword index marked ``is_tenant`` (Qdrant multitenancy)."""
PAYLOAD_KINDS: tuple[PayloadKind, ...] = ("keyword", "integer", "float", "bool", "datetime", "tenant")


@dataclass
class StoredPoint:
    """One point as the engines exchange it: string id, payload, and its vectors when asked for."""

    id: str
    payload: dict[str, Any] = field(default_factory=dict)
    dense: list[float] | None = None
    sparse: Any = None
    """A qdrant-client ``SparseVector`` (or ``None``)."""

    @classmethod
    def from_record(cls, record: Any, sparse: Callable[[Any], Any] = lambda terms: terms) -> StoredPoint:
        """A scrolled record (either engine's) with its named vectors; ``sparse`` converts the
        sparse one into a qdrant-client ``SparseVector`` where the engine stores another type."""
        vectors = record.vector if isinstance(record.vector, Mapping) else {}
        dense, terms = vectors.get(DENSE_VECTOR), vectors.get(SPARSE_VECTOR)
        return cls(
            str(record.id),
            dict(record.payload or {}),
            [float(x) for x in dense] if dense is not None else None,
            sparse(terms) if terms is not None else None,
        )


class Engine(Protocol):
    """The operations :class:`~._store.QdrantStore` and the source registry run on collections."""

    name: str
    """``"qdrant-edge"`` or ``"qdrant-client"``."""
    version: str
    where: str
    """Where the data lives, for messages: "the embedded store at '...'"."""
    is_server: bool
    indexes_payload: bool
    """Whether filtered fields get payload indexes (a server and Edge: yes; local mode scans)."""

    def exists(self, collection: str) -> bool: ...
    def load(self, collection: str) -> None:
        """Open an existing collection's files now, so damage shows before any model loads."""

    def create(
        self, collection: str, *, dense_size: int | None, metadata: Mapping[str, Any] | None
    ) -> None: ...
    def drop(self, collection: str) -> None: ...
    def metadata(self, collection: str) -> dict[str, Any]: ...
    def update_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None: ...
    def dense_size(self, collection: str) -> int | None: ...
    def index_payload(self, collection: str, field: str, kind: PayloadKind) -> None: ...
    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None: ...
    def retrieve(
        self, collection: str, ids: Sequence[str], payload_keys: Sequence[str]
    ) -> list[StoredPoint]: ...
    def delete_ids(self, collection: str, ids: Sequence[str]) -> None: ...
    def delete_where(self, collection: str, where: Any) -> None: ...
    def count(self, collection: str, where: Any = None) -> int: ...
    def facet(self, collection: str, key: str, limit: int) -> dict[str, int]: ...
    def scroll(
        self, collection: str, *, offset: Any, limit: int, with_vectors: bool
    ) -> tuple[list[StoredPoint], Any]: ...
    def query(
        self,
        collection: str,
        dense: Sequence[float] | None,
        *,
        limit: int,
        sparse: Any,
        where: Any,
        prefetch_limit: int | None = None,
    ) -> list[Hit]:
        """Dense top-``limit``; with ``sparse``, the top ``prefetch_limit`` of each fused by RRF;
        ``dense=None``: by ``sparse`` alone."""
        ...

    def build_index(self, collection: str, *, min_points: int, say: Callable[[str], None] | None) -> bool:
        """Build the vector index now if ``collection`` has ``min_points`` and enough unindexed ones;
        whether it did. Engines that index by themselves (a server) or never (local mode) do nothing."""
        ...

    def flush(self, collection: str) -> None: ...
    def close(self) -> None: ...
