"""The Qdrant store: one collection of chunks with a dense and a sparse vector per point.

Embedded (a local folder, default ``./.qwen3-rag/qdrant``, or ``":memory:"``) or a server by URL
(also from ``QDRANT_URL`` / ``QDRANT_API_KEY``): the same qdrant-client calls either way, so moving
from a laptop to a cluster changes one setting.

Each collection records, in Qdrant's collection metadata, the embedding model and dimensions
that made its vectors; opening it with another model or size is a :class:`CollectionMismatchError`,
never a silent mix of vector spaces.
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from .._errors import (
    CollectionMismatchError,
    CollectionNotFoundError,
    MissingDependencyError,
    StoreConnectionError,
)
from . import _embedded as embedded
from ._layout import CHUNK_FIELDS as CHUNK_FIELDS  # re-exported: the CLI's filter check reads it
from ._layout import CHUNK_INDEX, CONTENT_HASH, DENSE_VECTOR, SOURCE, SPARSE_VECTOR, Hit
from ._sources import SourceRegistry

DEFAULT_QDRANT_PATH = "./.qwen3-rag/qdrant"
DEFAULT_COLLECTION = "qwen3_rag"
FORMAT_VERSION = 1
_META_KEY = "qwen3_rag"
_CHUNKING_KEY = "qwen3_rag_chunking"  # separate key: updated by ingest, the vector space never is


def _qdrant() -> Any:
    try:
        import qdrant_client
    except ImportError as exc:  # an optional extra: say which one
        raise MissingDependencyError(
            "The Qdrant pipeline needs qdrant-client: pip install 'qwen3-rag[qdrant]'"
        ) from exc
    return qdrant_client


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

    >>> store = QdrantStore("docs")                                  # ./.qwen3-rag/qdrant
    >>> store = QdrantStore("docs", location=":memory:")            # in-process, throwaway
    >>> store = QdrantStore("docs", url="http://qdrant:6333", api_key="...")

    Without ``path``, ``location`` or ``url``, ``QDRANT_URL`` (and ``QDRANT_API_KEY``) pick a
    server when set, else the default local folder. ``client`` takes a ready ``QdrantClient``.
    ``create=False`` refuses to open an embedded folder that holds no store yet (readers use it,
    so a mistyped path is an error rather than a new empty store). A damaged embedded folder is a
    :class:`~qwen3_rag._errors.StoreDamagedError`.
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
    ) -> None:
        self.collection = collection
        self.sources = SourceRegistry(self)
        """The per-file records beside the chunks (see :mod:`qwen3_rag.pipeline._sources`)."""
        self._owns_client = client is None
        if client is not None:
            self.client = client
            self.is_server = not _is_local_client(client)
            self.where = "the given server client" if self.is_server else "the given embedded client"
            return
        qdrant_client = _qdrant()
        if path is not None and os.fspath(path) == ":memory:":
            path, location = None, ":memory:"
        if path is None and location is None and url is None:
            url = os.environ.get("QDRANT_URL") or None
            if url is None:
                path = DEFAULT_QDRANT_PATH
        self.is_server = url is not None  # decided here, once: the indexes and scans depend on it
        if url is not None:
            api_key = api_key if api_key is not None else (os.environ.get("QDRANT_API_KEY") or None)
            self.where = f"the Qdrant server at {url}"
            try:
                # Our own get_collections below reports failures; the version probe would only add noise.
                self.client = qdrant_client.QdrantClient(
                    url=url, api_key=api_key, timeout=timeout, check_compatibility=False
                )
                self.client.get_collections()  # fail now, with a clear message, not mid-ingest
            except Exception as exc:
                raise StoreConnectionError(
                    f"Could not reach {self.where} ({type(exc).__name__}: {exc}). Check that the server "
                    "is running and the URL and QDRANT_API_KEY are right, or drop --qdrant-url to use "
                    "the embedded store."
                ) from exc
        elif location is not None:
            self.where = f"the embedded store {location!r}"
            self.client = qdrant_client.QdrantClient(location=location)
        else:
            assert path is not None
            folder = Path(path).expanduser()
            self.where = f"the embedded store at {str(folder)!r}"
            if not create:
                embedded.require_folder(folder)
            embedded.check_folder(folder)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self.client = qdrant_client.QdrantClient(path=str(folder))
                # Close the folder at interpreter exit while modules still exist: a store nobody
                # closed (a retriever's) otherwise prints an ImportError from qdrant-client's __del__.
                weakref.finalize(self, self.client.close)
            except (RuntimeError, OSError) as exc:
                # Embedded Qdrant locks its folder: another process (or client) holds it.
                raise StoreConnectionError(
                    f"Could not open {self.where}: {exc} Close the other program using it, or run a "
                    "Qdrant server and pass --qdrant-url."
                ) from exc
            except (sqlite3.DatabaseError, ValueError, KeyError) as exc:  # damaged past the file checks
                raise embedded.damaged(folder, f"{type(exc).__name__}: {exc}") from exc

    # ----------------------------------------------------------------- collection
    def exists(self) -> bool:
        return bool(self._call(self.client.collection_exists, self.collection))

    def read_spec(self) -> EmbeddingSpec | None:
        """The recorded vector space; ``None`` when the collection has no qwen3-rag metadata."""
        info = self._call(self.client.get_collection, self.collection)
        return EmbeddingSpec.from_metadata(getattr(info.config, "metadata", None))

    def read_chunking(self) -> tuple[int, int] | None:
        """``(chunk_tokens, overlap)`` the last ingestion used, if recorded."""
        info = self._call(self.client.get_collection, self.collection)
        entry = (getattr(info.config, "metadata", None) or {}).get(_CHUNKING_KEY)
        if not isinstance(entry, Mapping):
            return None
        return int(entry["chunk_tokens"]), int(entry["overlap"])

    def read_chunking_options(self) -> dict[str, Any]:
        """Chunking settings recorded beside the sizes (``chunk_headers``); ``{}`` if none."""
        info = self._call(self.client.get_collection, self.collection)
        entry = (getattr(info.config, "metadata", None) or {}).get(_CHUNKING_KEY)
        if not isinstance(entry, Mapping):
            return {}
        return {k: v for k, v in entry.items() if k not in ("chunk_tokens", "overlap")}

    def record_chunking(self, chunk_tokens: int, overlap: int, **options: Any) -> None:
        """Record the chunk sizes and any other chunking ``options`` (replacing what was recorded)."""
        metadata = {_CHUNKING_KEY: {"chunk_tokens": chunk_tokens, "overlap": overlap, **options}}
        self._call(self.client.update_collection, self.collection, metadata=metadata)

    def _dense_size(self) -> int | None:
        info = self._call(self.client.get_collection, self.collection)
        vectors = info.config.params.vectors
        if isinstance(vectors, Mapping) and DENSE_VECTOR in vectors:
            return int(vectors[DENSE_VECTOR].size)
        return None

    def open(self, spec: EmbeddingSpec | None = None) -> EmbeddingSpec:
        """Check the collection exists (and, given ``spec``, matches it); return its spec."""
        if not self.exists():
            raise CollectionNotFoundError(
                f"Collection {self.collection!r} does not exist in {self.where}. Create it with "
                f"`qwen3-rag ingest PATH --collection {self.collection}` (and the same store options)."
            )
        recorded = self.read_spec()
        if recorded is None:
            size = self._dense_size()
            if size is None:
                raise CollectionMismatchError(
                    f"Collection {self.collection!r} in {self.where} was not made by qwen3-rag (no "
                    f"{DENSE_VECTOR!r} vector). Use another --collection name.",
                    expected=spec,
                    found=None,
                )
            # Servers older than Qdrant 1.16 drop collection metadata: fall back to the size.
            recorded = EmbeddingSpec(model=spec.model if spec else "unknown", dimensions=size)
        if spec is not None and not recorded.matches(spec):
            raise CollectionMismatchError(
                f"Collection {self.collection!r} holds vectors of {recorded.model!r} "
                f"(weights {recorded.fingerprint or 'unrecorded'}) with {recorded.dimensions} "
                f"dimensions, but {spec.model!r} (weights {spec.fingerprint or 'unknown'}) with "
                f"{spec.dimensions} dimensions was asked for. Use --embedding-model {recorded.model} "
                f"(and --dimensions {recorded.dimensions}), or ingest into another --collection.",
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
        from qdrant_client import models

        self._call(
            self.client.create_collection,
            self.collection,
            vectors_config={
                DENSE_VECTOR: models.VectorParams(size=spec.dimensions, distance=models.Distance.COSINE)
            },
            # IDF is computed by Qdrant over the collection, so the sparse values are plain term weights.
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=spec.to_metadata(),
        )
        self.sources.create()
        if self.is_server:  # embedded Qdrant scans; a server needs indexes for the filters ingest uses
            for field, schema in (
                (SOURCE, models.PayloadSchemaType.KEYWORD),
                (CHUNK_INDEX, models.PayloadSchemaType.INTEGER),
            ):
                self._call(self.client.create_payload_index, self.collection, field, schema)
        return spec

    # ----------------------------------------------------------------- points
    def existing_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """``{point id: content_hash}`` for those of ``ids`` already stored."""
        if not ids:
            return {}
        records = self._call(
            self.client.retrieve,
            self.collection,
            ids=list(ids),
            with_payload=[CONTENT_HASH],
            with_vectors=False,
        )
        return {str(r.id): str((r.payload or {}).get(CONTENT_HASH, "")) for r in records}

    def upsert_chunks(
        self,
        ids: Sequence[str],
        payloads: Sequence[dict[str, Any]],
        dense: Sequence[Sequence[float]],
        sparse: Sequence[Any],
    ) -> None:
        """Write chunk points (see :mod:`.layout`): one dense and one sparse vector each."""
        from qdrant_client import models

        points = [
            models.PointStruct(
                id=pid, vector={DENSE_VECTOR: [float(x) for x in vec], SPARSE_VECTOR: sp}, payload=payload
            )
            for pid, payload, vec, sp in zip(ids, payloads, dense, sparse, strict=True)
        ]
        self.upsert(points)

    def upsert(self, points: Iterable[Any]) -> None:
        self._call(self.client.upsert, self.collection, points=list(points), wait=True)

    def delete_ids(self, ids: Sequence[str]) -> None:
        from qdrant_client import models

        self._call(
            self.client.delete,
            self.collection,
            points_selector=models.PointIdsList(points=list(ids)),
            wait=True,
        )

    def delete_source_from(self, source: str, first_stale_index: int) -> None:
        """Delete the chunks of ``source`` with ``chunk_index >= first_stale_index``."""
        from qdrant_client import models

        selector = models.Filter(
            must=[
                models.FieldCondition(key=SOURCE, match=models.MatchValue(value=source)),
                models.FieldCondition(key=CHUNK_INDEX, range=models.Range(gte=first_stale_index)),
            ]
        )
        self._call(
            self.client.delete,
            self.collection,
            points_selector=models.FilterSelector(filter=selector),
            wait=True,
        )

    def delete_source(self, source: str) -> None:
        """Delete every chunk of ``source`` (its registry record is the caller's to remove after)."""
        from qdrant_client import models

        self._call(
            self.client.delete,
            self.collection,
            points_selector=models.FilterSelector(filter=_source_filter(source)),
            wait=True,
        )

    def count_source(self, source: str) -> int:
        selector = _source_filter(source)
        return int(self._call(self.client.count, self.collection, count_filter=selector, exact=True).count)

    def chunk_counts(self) -> dict[str, int]:
        """``{source: number of chunks}`` counted from the chunks themselves."""
        total = self.count()
        if total == 0:
            return {}
        response = self._call(self.client.facet, self.collection, key=SOURCE, limit=total, exact=True)
        return {str(hit.value): int(hit.count) for hit in response.hits}

    def count(self) -> int:
        return int(self._call(self.client.count, self.collection, exact=True).count)

    def query(
        self,
        dense: Sequence[float],
        *,
        limit: int,
        sparse: Any = None,
        query_filter: Any = None,
    ) -> list[Hit]:
        """Dense top-``limit``; with ``sparse``, dense and sparse fused by reciprocal rank fusion."""
        from qdrant_client import models

        if sparse is None:
            response = self._call(
                self.client.query_points,
                self.collection,
                query=list(dense),
                using=DENSE_VECTOR,
                limit=limit,
                query_filter=query_filter,
                with_payload=True,
            )
        else:
            response = self._call(
                self.client.query_points,
                self.collection,
                prefetch=[
                    models.Prefetch(query=list(dense), using=DENSE_VECTOR, limit=limit, filter=query_filter),
                    models.Prefetch(query=sparse, using=SPARSE_VECTOR, limit=limit, filter=query_filter),
                ],
                query=models.FusionQuery(fusion=models.Fusion.RRF),
                limit=limit,
                with_payload=True,
            )
        return [Hit.from_point(point) for point in response.points]

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a client call; connection failures become :class:`StoreConnectionError`."""
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreConnectionError(
                    f"Lost the connection to {self.where} ({type(exc).__name__}: {exc})."
                ) from exc
            raise

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> QdrantStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QdrantStore(collection={self.collection!r}, where={self.where!r})"


def _source_filter(source: str) -> Any:
    from qdrant_client import models

    return models.Filter(must=[models.FieldCondition(key=SOURCE, match=models.MatchValue(value=source))])


def _is_local_client(client: Any) -> bool:
    """Whether a ``QdrantClient`` runs Qdrant in-process (``:memory:`` or a folder)."""
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(getattr(client, "_client", client), QdrantLocal)


def _is_connection_error(exc: Exception) -> bool:
    try:
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, ResponseHandlingException | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403)
