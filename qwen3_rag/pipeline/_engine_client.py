"""The qdrant-client engine: a Qdrant server or cluster by URL, ``":memory:"``, and folders in
qdrant-client's local mode (the embedded format of earlier qwen3-rag versions)."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .._errors import MissingDependencyError, StoreConnectionError
from . import _local_folder_checks as local_folder
from ._engine import PayloadKind, StoredPoint
from ._layout import DENSE_VECTOR, SPARSE_VECTOR, Hit


def qdrant_client_module() -> Any:
    try:
        import qdrant_client
    except ImportError as exc:  # an optional extra: say which one
        raise MissingDependencyError(
            "The Qdrant pipeline needs qdrant-client: pip install 'qwen3-rag[qdrant]'"
        ) from exc
    return qdrant_client


def _client_version() -> str:
    try:
        return version("qdrant-client")
    except PackageNotFoundError:  # pragma: no cover - an unusual install
        return "unknown"


class ClientEngine:
    """Collections through a ``QdrantClient``; connection failures become :class:`StoreConnectionError`."""

    name = "qdrant-client"

    def __init__(self, client: Any, *, is_server: bool, where: str, owns: bool) -> None:
        self.client = client
        self.is_server = is_server
        self.indexes_payload = is_server  # local mode scans; a server needs indexes for our filters
        self.where = where
        self.version = _client_version()
        self._owns = owns

    # ------------------------------------------------------------------ opening
    @classmethod
    def for_server(cls, url: str, *, api_key: str | None, timeout: int | None) -> ClientEngine:
        qdrant_client = qdrant_client_module()
        where = f"the Qdrant server at {url}"
        try:
            # Our own get_collections below reports failures; the version probe would only add noise.
            client = qdrant_client.QdrantClient(
                url=url, api_key=api_key, timeout=timeout, check_compatibility=False
            )
            client.get_collections()  # fail now, with a clear message, not mid-ingest
        except Exception as exc:
            raise StoreConnectionError(
                f"Could not reach {where} ({type(exc).__name__}: {exc}). Check that the server "
                "is running and the URL and QDRANT_API_KEY are right, or drop qdrant_url= to use "
                "the embedded store."
            ) from exc
        return cls(client, is_server=True, where=where, owns=True)

    @classmethod
    def for_location(cls, location: str) -> ClientEngine:
        client = qdrant_client_module().QdrantClient(location=location)
        return cls(client, is_server=False, where=f"the embedded store {location!r}", owns=True)

    @classmethod
    def for_local_folder(cls, folder: Path) -> ClientEngine:
        """A folder in qdrant-client's local mode (brute force in Python; slow past ~20k points)."""
        qdrant_client = qdrant_client_module()
        where = f"the embedded store at {str(folder)!r}"
        local_folder.check_folder(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            client = qdrant_client.QdrantClient(path=str(folder))
        except (RuntimeError, OSError) as exc:
            # Local mode locks its folder: another process (or client) holds it.
            raise StoreConnectionError(
                f"Could not open {where}: {exc} Close the other program using it, or run a "
                "Qdrant server and pass qdrant_url=."
            ) from exc
        except (sqlite3.DatabaseError, ValueError, KeyError) as exc:  # damaged past the file checks
            raise local_folder.damaged(folder, f"{type(exc).__name__}: {exc}") from exc
        engine = cls(client, is_server=False, where=where, owns=True)
        # Close the folder at interpreter exit while modules still exist: a store nobody closed (a
        # retriever's) otherwise prints an ImportError from qdrant-client's __del__.
        weakref.finalize(engine, client.close)
        return engine

    # ------------------------------------------------------------------ collections
    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            if is_connection_error(exc):
                raise StoreConnectionError(
                    f"Lost the connection to {self.where} ({type(exc).__name__}: {exc})."
                ) from exc
            raise

    def exists(self, collection: str) -> bool:
        return bool(self._call(self.client.collection_exists, collection))

    def load(self, collection: str) -> None:
        """qdrant-client loads every collection when it opens."""

    def create(self, collection: str, *, dense_size: int | None, metadata: Mapping[str, Any] | None) -> None:
        from qdrant_client import models

        if dense_size is None:  # the source registry: payload only
            self._call(self.client.create_collection, collection, vectors_config={})
            return
        self._call(
            self.client.create_collection,
            collection,
            vectors_config={
                DENSE_VECTOR: models.VectorParams(size=dense_size, distance=models.Distance.COSINE)
            },
            # IDF is computed by Qdrant over the collection, so the sparse values are plain term weights.
            sparse_vectors_config={SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=dict(metadata or {}),
        )

    def drop(self, collection: str) -> None:
        if self.exists(collection):
            self._call(self.client.delete_collection, collection)

    def metadata(self, collection: str) -> dict[str, Any]:
        info = self._call(self.client.get_collection, collection)
        return dict(getattr(info.config, "metadata", None) or {})

    def update_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        self._call(self.client.update_collection, collection, metadata=dict(metadata))

    def dense_size(self, collection: str) -> int | None:
        vectors = self._call(self.client.get_collection, collection).config.params.vectors
        if isinstance(vectors, Mapping) and DENSE_VECTOR in vectors:
            return int(vectors[DENSE_VECTOR].size)
        return None

    def index_payload(self, collection: str, field: str, kind: PayloadKind) -> None:
        from qdrant_client import models

        schema: Any
        if kind == "tenant":
            schema = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
        else:
            schema = models.PayloadSchemaType(kind)
        self._call(self.client.create_payload_index, collection, field, schema)

    # ------------------------------------------------------------------ points
    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        from qdrant_client import models

        structs = []
        for p in points:
            vector: dict[str, Any] = {}
            if p.dense is not None:
                vector[DENSE_VECTOR] = [float(x) for x in p.dense]
            if p.sparse is not None:
                vector[SPARSE_VECTOR] = p.sparse
            structs.append(models.PointStruct(id=p.id, vector=vector, payload=p.payload))
        if structs:
            self._call(self.client.upsert, collection, points=structs, wait=True)

    def retrieve(self, collection: str, ids: Sequence[str], payload_keys: Sequence[str]) -> list[StoredPoint]:
        records = self._call(
            self.client.retrieve,
            collection,
            ids=list(ids),
            with_payload=list(payload_keys),
            with_vectors=False,
        )
        return [StoredPoint(str(r.id), dict(r.payload or {})) for r in records]

    def delete_ids(self, collection: str, ids: Sequence[str]) -> None:
        from qdrant_client import models

        if ids:
            selector = models.PointIdsList(points=list(ids))
            self._call(self.client.delete, collection, points_selector=selector, wait=True)

    def delete_where(self, collection: str, where: Any) -> None:
        from qdrant_client import models

        selector = models.FilterSelector(filter=where)
        self._call(self.client.delete, collection, points_selector=selector, wait=True)

    def count(self, collection: str, where: Any = None) -> int:
        return int(self._call(self.client.count, collection, count_filter=where, exact=True).count)

    def facet(self, collection: str, key: str, limit: int) -> dict[str, int]:
        response = self._call(self.client.facet, collection, key=key, limit=limit, exact=True)
        return {str(hit.value): int(hit.count) for hit in response.hits if hit.count}

    def scroll(
        self, collection: str, *, offset: Any, limit: int, with_vectors: bool
    ) -> tuple[list[StoredPoint], Any]:
        page, next_offset = self._call(
            self.client.scroll,
            collection,
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=with_vectors,
        )
        return [StoredPoint.from_record(record) for record in page], next_offset

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
        from qdrant_client import models

        request: dict[str, Any]
        if dense is None or sparse is None:  # one vector: dense, or the sparse terms alone
            query, using = (sparse, SPARSE_VECTOR) if dense is None else (list(dense), DENSE_VECTOR)
            request = {"query": query, "using": using, "query_filter": where}
        else:
            each = prefetch_limit or limit
            request = {
                "prefetch": [
                    models.Prefetch(query=list(dense), using=DENSE_VECTOR, limit=each, filter=where),
                    models.Prefetch(query=sparse, using=SPARSE_VECTOR, limit=each, filter=where),
                ],
                "query": models.FusionQuery(fusion=models.Fusion.RRF),
            }
        response = self._call(self.client.query_points, collection, limit=limit, with_payload=True, **request)
        return [Hit.from_point(point) for point in response.points]

    def build_index(self, collection: str, *, min_points: int, say: Callable[[str], None] | None) -> bool:
        """A server indexes in the background; local mode has no index (brute force)."""
        return False

    def flush(self, collection: str) -> None:
        """Writes are durable when the client returns (``wait=True``)."""

    def close(self) -> None:
        if self._owns:
            self.client.close()


def is_local_client(client: Any) -> bool:
    """Whether a ``QdrantClient`` runs Qdrant in-process (``:memory:`` or a folder)."""
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(getattr(client, "_client", client), QdrantLocal)


def is_connection_error(exc: Exception) -> bool:
    try:
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, ResponseHandlingException | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403)
