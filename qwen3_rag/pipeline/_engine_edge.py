"""The Qdrant Edge engine: Qdrant's own engine in-process, one shard per collection (see
:mod:`._edge_folder` for the layout).

Edge's edges, handled here: ids come back as ``UUID`` objects (made strings); a facet lists a
deleted value with count 0 until the shard is reopened (dropped); updates are not fsynced until
``flush()`` (the registry calls it in the order crash safety needs); filters and sparse vectors
arrive as qdrant-client objects (converted by :mod:`._edge_convert`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import StoreConnectionError, StoreDamagedError
from . import _edge_convert as convert
from . import _edge_folder as layout
from ._engine import PayloadKind, StoredPoint
from ._layout import DENSE_VECTOR, SPARSE_VECTOR, Hit

_REGISTRY_VECTOR = "unused"  # Edge wants at least one vector per shard; registry points have none
_RRF_K = 2  # Qdrant's default, so Edge fuses exactly as a server and qdrant-client do


class EdgeEngine:
    """Collections as Qdrant Edge shards in one folder, held by this process while open."""

    name = layout.ENGINE
    is_server = False
    indexes_payload = True  # facets need them on Edge, and filters are index lookups, not scans

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = f"the embedded store at {str(folder)!r}"
        self.version = layout.edge_version()
        self._shards: dict[str, Any] = {}
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except PermissionError as exc:
            raise layout.unwritable(folder, exc) from exc
        self._lock: layout.FolderLock | None = layout.FolderLock(folder)
        try:
            self._record = self._open_record()
        except BaseException:
            self.close()
            raise

    def _open_record(self) -> dict[str, Any]:
        store_file = self.folder / layout.STORE_FILE
        if store_file.exists():
            record = layout.check_store_file(self.folder, self.version)
        else:
            record = {"engine": layout.ENGINE, "layout": layout.LAYOUT, "created_with": self.version}
        self._written_by = dict(record)  # as found: names the release that wrote it if loading fails
        if record.get("engine_version") != self.version:
            record["engine_version"] = self.version  # what last opened it: tells a later release
            try:
                (self.folder / layout.COLLECTIONS).mkdir(exist_ok=True)
                layout.write_json(store_file, record)
            except PermissionError as exc:
                raise layout.unwritable(self.folder, exc) from exc
        return record

    # ------------------------------------------------------------------ collections
    def _dir(self, collection: str) -> Path:
        if not collection or "/" in collection or "\\" in collection or collection.startswith("."):
            from .._errors import InvalidOptionError

            raise InvalidOptionError(
                f"Collection name {collection!r} cannot name a folder of the embedded store: use "
                "letters, digits, '_', '-' and '.', not starting with '.'."
            )
        return self.folder / layout.COLLECTIONS / collection

    def exists(self, collection: str) -> bool:
        return (self._dir(collection) / layout.COLLECTION_FILE).is_file()

    def load(self, collection: str) -> None:
        self._shard(collection)

    def _config(self, dense_size: int | None) -> Any:
        import qdrant_edge as qe

        if dense_size is None:
            return qe.EdgeConfig(sparse_vectors={_REGISTRY_VECTOR: qe.EdgeSparseVectorParams()})
        return qe.EdgeConfig(
            vectors={DENSE_VECTOR: qe.EdgeVectorParams(size=dense_size, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            # Edge optimizes only when told (build_index decides when): then index every segment.
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1),
        )

    def create(self, collection: str, *, dense_size: int | None, metadata: Mapping[str, Any] | None) -> None:
        """Build the collection beside its place, then rename it in: a crash leaves none or all of it."""
        import qdrant_edge as qe

        final = self._dir(collection)
        partial = final.with_name(f".{collection}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        shard = qe.EdgeShard.create(str(partial / layout.SHARD), self._config(dense_size))
        shard.flush()
        shard.close()
        layout.write_json(
            partial / layout.COLLECTION_FILE, {"dense_size": dense_size, "metadata": dict(metadata or {})}
        )
        layout.sync_dir(partial)
        partial.rename(final)
        layout.sync_dir(final.parent)

    def drop(self, collection: str) -> None:
        if not self.exists(collection):
            return
        shard = self._shards.pop(collection, None)
        if shard is not None:
            shard.close()
        final = self._dir(collection)
        doomed = final.with_name(f".{collection}.dropped")
        shutil.rmtree(doomed, ignore_errors=True)
        final.rename(doomed)  # gone at once; the files after
        shutil.rmtree(doomed, ignore_errors=True)

    def _info(self, collection: str) -> dict[str, Any]:
        return layout.read_json(self._dir(collection) / layout.COLLECTION_FILE, self.folder)

    def metadata(self, collection: str) -> dict[str, Any]:
        return dict(self._info(collection).get("metadata") or {})

    def update_metadata(self, collection: str, metadata: Mapping[str, Any]) -> None:
        info = self._info(collection)
        info["metadata"] = {**(info.get("metadata") or {}), **metadata}
        layout.write_json(self._dir(collection) / layout.COLLECTION_FILE, info)

    def dense_size(self, collection: str) -> int | None:
        size = self._info(collection).get("dense_size")
        return int(size) if size is not None else None

    def index_payload(self, collection: str, field: str, kind: PayloadKind) -> None:
        import qdrant_edge as qe

        schema: Any
        if kind == "tenant":
            schema = qe.KeywordIndexParams(is_tenant=True)
        else:
            schema = getattr(qe.PayloadSchemaType, kind.capitalize())
        self._shard(collection).update(qe.UpdateOperation.create_field_index(field, schema))

    def shard(self, collection: str) -> Any:
        """The open ``EdgeShard`` of ``collection`` (benchmarks and ``store upgrade`` reach for it)."""
        return self._shard(collection)

    def _shard(self, collection: str) -> Any:
        shard = self._shards.get(collection)
        if shard is not None:
            return shard
        import qdrant_edge as qe

        path = self._dir(collection) / layout.SHARD
        if not (path / "edge_config.json").is_file():
            raise layout.damaged(self.folder, f"collection {collection!r} has no shard configuration")
        segments = path / "segments"
        if not segments.is_dir() or not any(segments.iterdir()):  # Edge would load it as empty: data gone
            raise layout.damaged(self.folder, f"collection {collection!r} has no segments")
        try:
            shard = qe.EdgeShard.load(str(path))
        except Exception as exc:  # Edge raises bare Exceptions; tell the cases apart by their text
            text = str(exc)
            if "WouldBlock" in text:
                raise StoreConnectionError(
                    f"Collection {collection!r} in {self.where} is open in another process. Stop "
                    "that process, or run a Qdrant server and pass qdrant_url=."
                ) from exc
            if "Permission denied" in text:
                raise layout.unwritable(self.folder, PermissionError(13, "Permission denied")) from exc
            what = f"collection {collection!r} cannot be loaded: {' '.join(text.split())[:300]}"
            hint = layout.version_hint(self.folder, self._written_by, self.version)
            if hint:  # another Edge release wrote it: the way out is that release, not a restore
                raise StoreDamagedError(f"Qdrant Edge cannot read {self.where} ({what}).{hint}") from exc
            raise layout.damaged(self.folder, what) from exc
        self._shards[collection] = shard
        return shard

    # ------------------------------------------------------------------ points
    def upsert(self, collection: str, points: Sequence[StoredPoint]) -> None:
        import qdrant_edge as qe

        edge_points = []
        for p in points:
            vector: dict[str, Any] = {}
            if p.dense is not None:
                vector[DENSE_VECTOR] = p.dense  # already a list of floats (StoredPoint)
            if p.sparse is not None:
                vector[SPARSE_VECTOR] = convert.sparse(p.sparse)
            edge_points.append(qe.Point(p.id, vector, p.payload))
        if edge_points:
            self._shard(collection).update(qe.UpdateOperation.upsert_points(edge_points))

    def retrieve(self, collection: str, ids: Sequence[str], payload_keys: Sequence[str]) -> list[StoredPoint]:
        records = self._shard(collection).retrieve(
            list(ids), with_payload=list(payload_keys), with_vector=False
        )
        return [StoredPoint(str(r.id), dict(r.payload or {})) for r in records]

    def delete_ids(self, collection: str, ids: Sequence[str]) -> None:
        import qdrant_edge as qe

        if ids:
            self._shard(collection).update(qe.UpdateOperation.delete_points(list(ids)))

    def delete_where(self, collection: str, where: Any) -> None:
        import qdrant_edge as qe

        self._shard(collection).update(qe.UpdateOperation.delete_points_by_filter(convert.edge_filter(where)))

    def count(self, collection: str, where: Any = None) -> int:
        import qdrant_edge as qe

        return int(
            self._shard(collection).count(qe.CountRequest(exact=True, filter=convert.edge_filter(where)))
        )

    def facet(self, collection: str, key: str, limit: int) -> dict[str, int]:
        import qdrant_edge as qe

        response = self._shard(collection).facet(qe.FacetRequest(key, limit=limit, exact=True))
        return {str(hit.value): int(hit.count) for hit in response.hits if hit.count}  # 0: deleted

    def scroll(
        self, collection: str, *, offset: Any, limit: int, with_vectors: bool
    ) -> tuple[list[StoredPoint], Any]:
        import qdrant_edge as qe

        request = qe.ScrollRequest(offset=offset, limit=limit, with_payload=True, with_vector=with_vectors)
        records, next_offset = self._shard(collection).scroll(request)
        return [StoredPoint.from_record(record, convert.sparse_back) for record in records], next_offset

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
        each = prefetch_limit or limit
        import qdrant_edge as qe

        edge_where = convert.edge_filter(where)
        rrf: Any = qe.Fusion.Rrf(k=_RRF_K)  # the stubs leave the nested fusion classes out of the union
        if dense is None:  # sparse terms alone
            terms = qe.Query.Nearest(convert.sparse(sparse), using=SPARSE_VECTOR)
            request = qe.QueryRequest(limit=limit, query=terms, filter=edge_where, with_payload=True)
            return [Hit.from_point(point) for point in self._shard(collection).query(request)]
        nearest = qe.Query.Nearest([float(x) for x in dense], using=DENSE_VECTOR)
        if sparse is None:
            request = qe.QueryRequest(limit=limit, query=nearest, filter=edge_where, with_payload=True)
        else:
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[
                    qe.Prefetch(limit=each, query=nearest, filter=edge_where),
                    qe.Prefetch(
                        limit=each,
                        query=qe.Query.Nearest(convert.sparse(sparse), using=SPARSE_VECTOR),
                        filter=edge_where,
                    ),
                ],
                query=rrf,
                with_payload=True,
            )
        return [Hit.from_point(point) for point in self._shard(collection).query(request)]

    def build_index(self, collection: str, *, min_points: int, say: Callable[[str], None] | None) -> bool:
        """Run Edge's optimizers (HNSW build, segment merge): manual, blocking, ~2.4x disk meanwhile.

        Only once the collection has ``min_points`` and a quarter of them (or ``min_points``) are
        not in the index yet: below that, exact search is fast enough and exact.
        """
        shard = self._shard(collection)
        points = int(shard.info().points_count)
        # Edge's own indexed count includes the sparse vectors (always indexed): keep ours.
        indexed = int(self._info(collection).get("indexed_points", 0))
        if points < min_points or points - indexed < min(min_points, points // 4):
            return False
        if say is not None:
            say(f"qwen3-rag: indexing {points} chunks of {collection!r} (HNSW, from {min_points} chunks on)")
        started = time.perf_counter()
        shard.optimize()
        shard.flush()
        info = self._info(collection)
        info["indexed_points"] = points
        layout.write_json(self._dir(collection) / layout.COLLECTION_FILE, info)
        if say is not None:
            say(f"qwen3-rag: indexed {collection!r} in {time.perf_counter() - started:.0f} s")
        return True

    def flush(self, collection: str) -> None:
        shard = self._shards.get(collection)
        if shard is not None:
            shard.flush()

    def close(self) -> None:
        shards, self._shards = self._shards, {}
        try:
            for shard in shards.values():
                shard.flush()
                shard.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
