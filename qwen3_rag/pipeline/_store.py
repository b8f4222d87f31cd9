"""The Qdrant store: one collection of chunks with a dense and a sparse vector per point.

Embedded (a local folder, default ``./.qwen3-rag/qdrant``, run by Qdrant Edge; or ``":memory:"``)
or a server by URL (also from ``QDRANT_URL`` / ``QDRANT_API_KEY``): the same points, payloads and
metadata on every engine (:mod:`._engine`), so moving from a laptop to a cluster changes one
setting and copies points (``qwen3-rag store push``), never re-embeds them.

Each collection records, in Qdrant's collection metadata, the embedding model and dimensions
that made its vectors; opening it with another model or size is a :class:`CollectionMismatchError`,
never a silent mix of vector spaces.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from .._environment import QDRANT_API_KEY, QDRANT_URL
from .._errors import CollectionMismatchError, CollectionNotFoundError, InvalidOptionError
from ._edge_folder import layout_of
from ._engine import Engine, StoredPoint
from ._engine_client import ClientEngine, is_local_client
from ._layout import CHUNK_FIELDS as CHUNK_FIELDS  # re-exported: the CLI's filter check reads it
from ._layout import CHUNK_INDEX, CONTENT_HASH, DENSE_VECTOR, SOURCE, SPARSE_VECTOR, TENANT, Hit
from ._local_folder_checks import no_store
from ._sources import SourceRegistry

if TYPE_CHECKING:
    from ._engine import PayloadKind
    from ._filters import Where

logger = logging.getLogger("qwen3_rag")

DEFAULT_QDRANT_PATH = "./.qwen3-rag/qdrant"
DEFAULT_COLLECTION = "qwen3_rag"
_UNRECORDED = "unknown"  # the model of a collection whose metadata a server dropped (see open)
FORMAT_VERSION = 1
_META_KEY = "qwen3_rag"
_CHUNKING_KEY = "qwen3_rag_chunking"  # separate key: updated by ingest, the vector space never is
_INDEXES_KEY = "qwen3_rag_indexes"  # payload indexes made on request: {field: kind}


ENGINES = ("edge", "local")
"""``engine=`` choices for a new embedded folder; an existing folder keeps the one it has."""
_SCROLL_PAGE = 256
INDEX_FROM = 20_000
"""Chunks from which Edge collections get an HNSW index after ingestion. Measured (benchmarks/store.py,
docs/benchmarks.md): exact search of 1024-d vectors costs ~1 ms per 1,000 chunks here, so ~20 ms at
this size, while an index build costs about a minute per 100k chunks; below it results stay exact."""


def model_identity(name: str) -> str:
    """What two spellings of one model share: the last path component, lower-cased.

    ``Qwen/Qwen3-Embedding-0.6B`` and ``/models/Qwen3-Embedding-0.6B`` are the same weights.
    """
    parts = PurePath(name.rstrip("/\\")).parts
    for i, part in enumerate(parts):  # a Hub cache snapshot: .../models--Qwen--X/snapshots/<hash>
        if part.startswith("models--") and i + 1 < len(parts) and parts[i + 1] == "snapshots":
            return part.split("--")[-1].lower()
    return parts[-1].lower() if parts else ""


@dataclass(frozen=True)
class EmbeddingSpec:
    """The vector space of a collection: which model made the vectors, and their size."""

    model: str
    dimensions: int
    fingerprint: str | None = None
    """Digest of the weights (``Qwen3Embedder.fingerprint``): tells apart two models whose
    folders share a name, and recognises one model under two names."""

    @classmethod
    def for_embedder(cls, embedder: Any) -> EmbeddingSpec:
        """The spec of the vectors a ``Qwen3Embedder`` makes."""
        return cls(embedder.model_name, int(embedder.dimensions), embedder.fingerprint)

    def to_metadata(self) -> dict[str, Any]:
        return {
            _META_KEY: {
                "format": FORMAT_VERSION,
                "embedding_model": self.model,
                "embedding_model_id": model_identity(self.model),
                "embedding_fingerprint": self.fingerprint,
                "dimensions": self.dimensions,
                "dense_vector": DENSE_VECTOR,
                "sparse_vector": SPARSE_VECTOR,
            }
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any] | None) -> EmbeddingSpec | None:
        entry = (metadata or {}).get(_META_KEY)
        if not isinstance(entry, Mapping):
            return None
        fingerprint = entry.get("embedding_fingerprint")
        return cls(
            model=str(entry["embedding_model"]),
            dimensions=int(entry["dimensions"]),
            fingerprint=str(fingerprint) if fingerprint else None,
        )

    def matches(self, other: EmbeddingSpec) -> bool:
        if self.dimensions != other.dimensions:
            return False
        if self.fingerprint and other.fingerprint:
            return self.fingerprint == other.fingerprint
        return model_identity(self.model) == model_identity(other.model)


class QdrantStore:
    """A Qdrant collection of text chunks, embedded or on a server.

    >>> store = QdrantStore("docs")                                  # ./.qwen3-rag/qdrant (Qdrant Edge)
    >>> store = QdrantStore("docs", location=":memory:")            # in-process, throwaway
    >>> store = QdrantStore("docs", url="http://qdrant:6333", api_key="...")

    Without ``path``, ``location`` or ``url``, ``QDRANT_URL`` (and ``QDRANT_API_KEY``) pick a
    server when set, else the default local folder. ``client`` takes a ready ``QdrantClient``.
    ``create=False`` refuses to open an embedded folder that holds no store yet (readers use it,
    so a mistyped path is an error rather than a new empty store). A damaged embedded folder is a
    :class:`~qwen3_rag._errors.StoreDamagedError`.

    An embedded folder runs on Qdrant Edge (Qdrant's engine in-process). Folders made by earlier
    versions in qdrant-client's local mode are recognised and still work (slow past ~20k points;
    ``qwen3-rag store upgrade`` converts one); ``engine="local"`` makes a new folder in local mode,
    which the frameworks' own Qdrant stores can share through :attr:`client`.
    """

    def __init__(
        self,
        collection: str = DEFAULT_COLLECTION,
        *,
        path: str | os.PathLike[str] | None = None,
        location: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        timeout: int | None = None,
        client: Any = None,
        create: bool = True,
        engine: str | None = None,
    ) -> None:
        self.collection = collection
        self.sources = SourceRegistry(self)
        """The per-file records beside the chunks (see :mod:`qwen3_rag.pipeline._sources`)."""
        if engine is not None and engine not in ENGINES:
            raise InvalidOptionError(f"engine must be one of {', '.join(ENGINES)} (or None), got {engine!r}.")
        self.engine: Engine = self._open_engine(path, location, url, api_key, timeout, client, create, engine)
        self.is_server = self.engine.is_server  # decided here, once: the indexes depend on it
        self.where = self.engine.where
        # Flush and unlock at interpreter exit while modules still exist: a store nobody closed (a
        # retriever's) must neither lose writes nor print errors from a library's __del__.
        self._finalizer = weakref.finalize(self, self.engine.close)

    @staticmethod
    def _open_engine(
        path: str | os.PathLike[str] | None,
        location: str | None,
        url: str | None,
        api_key: str | None,
        timeout: int | None,
        client: Any,
        create: bool,
        engine: str | None,
    ) -> Engine:
        if client is not None:
            server = not is_local_client(client)
            where = "the given server client" if server else "the given embedded client"
            return ClientEngine(client, is_server=server, where=where, owns=False)
        if path is not None and os.fspath(path) == ":memory:":
            path, location = None, ":memory:"
        if path is None and location is None and url is None:
            url = QDRANT_URL.get()
            if url is None:
                path = DEFAULT_QDRANT_PATH
        if url is not None:
            api_key = api_key if api_key is not None else QDRANT_API_KEY.get()
            return ClientEngine.for_server(url, api_key=api_key, timeout=timeout)
        if location is not None:
            return ClientEngine.for_location(location)
        assert path is not None
        folder = Path(path).expanduser()
        found = layout_of(folder)
        if found == "empty" and not create:
            raise no_store(folder)
        if found == "local" or (found == "empty" and engine == "local"):
            if found == "local" and engine is None:
                logger.warning(
                    "qwen3-rag: %s is in qdrant-client's local mode (slow past ~20k chunks); "
                    "`qwen3-rag store upgrade --qdrant-path %s` converts it to Qdrant Edge.",
                    folder,
                    folder,
                )
            if engine == "edge":
                raise InvalidOptionError(
                    f"{str(folder)!r} holds a store in qdrant-client's local mode, not Qdrant Edge: "
                    f"convert it with `qwen3-rag store upgrade --qdrant-path {folder}`."
                )
            return ClientEngine.for_local_folder(folder)
        if found == "edge" and engine == "local":
            raise InvalidOptionError(
                f"{str(folder)!r} holds a Qdrant Edge store, which qdrant-client's local mode cannot "
                "open. Drop engine='local', or choose another folder."
            )
        from ._engine_edge import EdgeEngine

        return EdgeEngine(folder)

    @property
    def client(self) -> Any:
        """The ``QdrantClient`` under a server, ``:memory:`` or local-mode store (for the frameworks'
        own Qdrant stores). An Edge folder has none."""
        if isinstance(self.engine, ClientEngine):
            return self.engine.client
        raise AttributeError(
            f"{self.where} runs on Qdrant Edge, which qdrant-client cannot open, so it has no "
            "QdrantClient. Use qwen3-rag's retrievers and adapters on it, or, for a framework's own "
            "Qdrant store, push it to a server (`qwen3-rag store push --to-url URL`) or make the "
            "folder with QdrantStore(..., engine='local')."
        )

    # ----------------------------------------------------------------- collection
    def exists(self) -> bool:
        return self.engine.exists(self.collection)

    def read_spec(self) -> EmbeddingSpec | None:
        """The recorded vector space; ``None`` when the collection has no qwen3-rag metadata."""
        return EmbeddingSpec.from_metadata(self.engine.metadata(self.collection))

    def read_metadata(self) -> dict[str, Any]:
        """The collection's whole metadata (the vector space and the chunking records)."""
        return self.engine.metadata(self.collection)

    def read_chunking(self) -> tuple[int, int] | None:
        """``(chunk_tokens, overlap)`` the last ingestion used, if recorded."""
        entry = self.engine.metadata(self.collection).get(_CHUNKING_KEY)
        if not isinstance(entry, Mapping):
            return None
        return int(entry["chunk_tokens"]), int(entry["overlap"])

    def read_chunking_options(self) -> dict[str, Any]:
        """Chunking settings recorded beside the sizes (``chunk_headers``); ``{}`` if none."""
        entry = self.engine.metadata(self.collection).get(_CHUNKING_KEY)
        if not isinstance(entry, Mapping):
            return {}
        return {k: v for k, v in entry.items() if k not in ("chunk_tokens", "overlap")}

    def record_chunking(self, chunk_tokens: int, overlap: int, **options: Any) -> None:
        """Record the chunk sizes and any other chunking ``options`` (replacing what was recorded)."""
        metadata = {_CHUNKING_KEY: {"chunk_tokens": chunk_tokens, "overlap": overlap, **options}}
        self.engine.update_metadata(self.collection, metadata)

    def open(
        self, spec: EmbeddingSpec | None = None, *, recorded: EmbeddingSpec | None = None
    ) -> EmbeddingSpec:
        """Check the collection exists (and, given ``spec``, matches it); return its spec.

        ``recorded``: what an earlier ``open()`` of this store returned; ``spec`` is then checked
        against it without reading the collection again.
        """
        if recorded is not None and recorded.model != _UNRECORDED:
            return self._checked(recorded, spec)
        if not self.exists():
            raise CollectionNotFoundError(
                f"Collection {self.collection!r} does not exist in {self.where}. Create it with "
                f"`qwen3-rag ingest PATH --collection {self.collection}` (and the same store options)."
            )
        self.engine.load(self.collection)
        recorded = self.read_spec()
        if recorded is None:
            size = self.engine.dense_size(self.collection)
            if size is None:
                raise CollectionMismatchError(
                    f"Collection {self.collection!r} in {self.where} was not made by qwen3-rag (no "
                    f"{DENSE_VECTOR!r} vector). Use another collection= name.",
                    expected=spec,
                    found=None,
                )
            # Servers older than Qdrant 1.16 drop collection metadata: fall back to the size.
            recorded = EmbeddingSpec(model=spec.model if spec else _UNRECORDED, dimensions=size)
        return self._checked(recorded, spec)

    def _checked(self, recorded: EmbeddingSpec, spec: EmbeddingSpec | None) -> EmbeddingSpec:
        if spec is not None and not recorded.matches(spec):
            raise CollectionMismatchError(
                f"Collection {self.collection!r} holds vectors of {recorded.model!r} "
                f"(weights {recorded.fingerprint or 'unrecorded'}) with {recorded.dimensions} "
                f"dimensions, but {spec.model!r} (weights {spec.fingerprint or 'unknown'}) with "
                f"{spec.dimensions} dimensions was asked for. Use embedding_model={recorded.model!r} "
                f"(and dimensions={recorded.dimensions}), or ingest into another collection=.",
                expected=spec,
                found=recorded,
            )
        return recorded

    def ensure(self, spec: EmbeddingSpec) -> EmbeddingSpec:
        """Create the collection for ``spec`` if missing, else check it matches."""
        if self.exists():
            recorded = self.open(spec)
            self.sources.create()  # collections made before the registry get one, filled from the chunks
            return recorded
        self.create_collection(spec.dimensions, spec.to_metadata())
        return spec

    def create_collection(self, dimensions: int, metadata: Mapping[str, Any]) -> None:
        """Create the chunks collection (with ``metadata`` as given), its registry and its indexes."""
        self.engine.create(self.collection, dense_size=dimensions, metadata=metadata)
        if self.engine.indexes_payload:  # the fields ingest, prune and filters select by
            self.engine.index_payload(self.collection, SOURCE, "keyword")
            self.engine.index_payload(self.collection, CHUNK_INDEX, "integer")
        self.sources.create()

    def index_fields(self, fields: Mapping[str, PayloadKind] | Sequence[str]) -> list[str]:
        """Payload indexes on user metadata fields people filter on; the fields newly indexed.

        ``fields``: names (keyword indexes) or ``{name: kind}`` with a kind of
        :data:`~._engine.PAYLOAD_KINDS` (``"integer"`` for years, ``"datetime"`` for dates ...).
        Names are filter keys (``team`` indexes ``metadata.team``). Made once and recorded in the
        collection; engines that scan instead (qdrant-client local mode) record nothing.
        ``{"tenant": "tenant"}`` makes Qdrant's tenant index (the ingestor does, once, on the
        first write with a tenant: collections without tenants go without it).
        """
        from ._engine import PAYLOAD_KINDS
        from ._filters import payload_path

        wanted: dict[str, Any] = (
            dict(fields) if isinstance(fields, Mapping) else {name: "keyword" for name in fields}
        )
        for name, kind in wanted.items():
            if kind not in PAYLOAD_KINDS:
                raise InvalidOptionError(
                    f"index_fields: {name!r} has the index kind {kind!r}; use one of "
                    f"{', '.join(PAYLOAD_KINDS)}."
                )
        if not self.engine.indexes_payload:
            return []
        made = dict(self.engine.metadata(self.collection).get(_INDEXES_KEY) or {})
        new = [name for name, kind in wanted.items() if made.get(payload_path(name)) != kind]
        for name in new:
            self.engine.index_payload(self.collection, payload_path(name), wanted[name])
            made[payload_path(name)] = wanted[name]
        if new:
            self.engine.update_metadata(self.collection, {_INDEXES_KEY: made})
        return new

    # ----------------------------------------------------------------- points
    def existing_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """``{point id: content_hash}`` for those of ``ids`` already stored."""
        if not ids:
            return {}
        records = self.engine.retrieve(self.collection, ids, [CONTENT_HASH])
        return {r.id: str(r.payload.get(CONTENT_HASH, "")) for r in records}

    def upsert_chunks(
        self,
        ids: Sequence[str],
        payloads: Sequence[dict[str, Any]],
        dense: Sequence[Sequence[float]],
        sparse: Sequence[Any],
    ) -> None:
        """Write chunk points (see :mod:`.layout`): one dense and one sparse vector each."""
        points = [
            StoredPoint(pid, payload, _floats(vec), sp)
            for pid, payload, vec, sp in zip(ids, payloads, dense, sparse, strict=True)
        ]
        self.upsert(points)

    def upsert(self, points: Iterable[StoredPoint]) -> None:
        self.engine.upsert(self.collection, list(points))

    def points(self, *, with_vectors: bool = True, page: int = _SCROLL_PAGE) -> Iterator[StoredPoint]:
        """Every chunk point (with its vectors): for copying a collection and for checks."""
        offset = None
        while True:
            batch, offset = self.engine.scroll(
                self.collection, offset=offset, limit=page, with_vectors=with_vectors
            )
            yield from batch
            if offset is None:
                return

    def delete_ids(self, ids: Sequence[str]) -> None:
        self.engine.delete_ids(self.collection, ids)

    def delete_source_from(self, source: str, first_stale_index: int, *, tenant: str | None = None) -> None:
        """Delete the chunks of ``source`` (of ``tenant``) with ``chunk_index >= first_stale_index``."""
        from qdrant_client import models

        stale = models.FieldCondition(key=CHUNK_INDEX, range=models.Range(gte=first_stale_index))
        selector = _source_filter(source, tenant)
        selector.must = [*selector.must, stale]
        self.engine.delete_where(self.collection, selector)

    def delete_source(self, source: str, *, tenant: str | None = None) -> None:
        """Delete every chunk of ``source`` of ``tenant`` (``None``: the chunks without a tenant);
        its registry record is the caller's to remove after."""
        self.engine.delete_where(self.collection, _source_filter(source, tenant))

    def count_source(self, source: str, *, tenant: str | None = None) -> int:
        return self.engine.count(self.collection, _source_filter(source, tenant))

    def chunk_counts(self) -> dict[str, int]:
        """``{source: number of chunks}`` counted from the chunks themselves."""
        total = self.count()
        if total == 0:
            return {}
        return self.engine.facet(self.collection, SOURCE, total)

    def count(self) -> int:
        return self.engine.count(self.collection)

    def query(
        self,
        dense: Sequence[float] | None,
        *,
        limit: int,
        sparse: Any = None,
        query_filter: Where = None,
        tenant: str | None = None,
    ) -> list[Hit]:
        """Dense top-``limit``; with ``sparse``, dense and sparse fused by reciprocal rank fusion;
        ``dense=None`` ranks by ``sparse`` alone.

        ``query_filter`` is a mapping or a qdrant ``Filter`` (:func:`~._filters.to_qdrant_filter`);
        ``tenant`` keeps the chunks of that tenant only.

        Fusion ties often (first in one list, absent from the other, scores the same as the
        reverse): every fused candidate is fetched and ties go by point id, so each engine returns
        the same points in the same order.
        """
        where = self.to_filter(query_filter, tenant=tenant)
        if sparse is None or dense is None:
            return self.engine.query(self.collection, dense, limit=limit, sparse=sparse, where=where)
        fused = self.engine.query(
            self.collection, dense, limit=2 * limit, sparse=sparse, where=where, prefetch_limit=limit
        )
        return sorted(fused, key=lambda hit: (-round(hit.score, 6), hit.id))[:limit]

    def to_filter(self, where: Where, *, tenant: str | None = None) -> Any:
        """``where`` as a qdrant ``Filter``; ``source`` folders resolved from this store's records."""
        from ._filters import to_qdrant_filter

        return to_qdrant_filter(where, sources=lambda: (r.source for r in self.sources.all()), tenant=tenant)

    def build_index(self, *, say: Callable[[str], None] | None = None, min_points: int = INDEX_FROM) -> bool:
        """Build the HNSW index when it pays (Qdrant Edge; see :data:`INDEX_FROM`); whether it did.

        Ingestion calls it after each run. Below ``min_points`` search stays exact.
        """
        return self.engine.build_index(self.collection, min_points=min_points, say=say)

    def flush(self) -> None:
        """Make the chunks' writes durable (Edge does not fsync each update)."""
        self.engine.flush(self.collection)

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> QdrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"QdrantStore(collection={self.collection!r}, where={self.where!r}, engine={self.engine.name!r})"
        )


def _floats(vector: Sequence[float]) -> list[float]:
    """A plain list of Python floats (numpy rows convert in one call, not per element)."""
    tolist = getattr(vector, "tolist", None)
    return [float(x) for x in (tolist() if tolist is not None else vector)]


def _source_filter(source: str, tenant: str | None = None) -> Any:
    """The chunks of ``source`` of ``tenant``; ``tenant=None``: those without a tenant, so removing a
    file never touches a tenant's document of the same name."""
    from qdrant_client import models

    same_source = models.FieldCondition(key=SOURCE, match=models.MatchValue(value=source))
    if tenant is None:
        return models.Filter(
            must=[same_source, models.IsEmptyCondition(is_empty=models.PayloadField(key=TENANT))]
        )
    return models.Filter(
        must=[same_source, models.FieldCondition(key=TENANT, match=models.MatchValue(value=tenant))]
    )
