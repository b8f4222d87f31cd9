"""Documents given by the caller (a framework's loader, a database, a corpus): an id, text, metadata.

A :class:`SourceDocument` goes into a collection exactly as a file does (:meth:`Ingestor.ingest_documents`):
its ``id`` plays the role of a file's path (the ``source`` of its chunks and the key of its record),
its ``metadata`` is stored with every chunk (payload key ``metadata``) and returned with results.
Metadata is checked JSON-safe here, once, so what is stored is exactly what comes back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import InvalidOptionError


def check_name(value: Any, what: str) -> str:
    """A document id or tenant: a non-empty string without NUL (NUL separates them in keys)."""
    if not isinstance(value, str) or not value:
        raise InvalidOptionError(f"{what} must be a non-empty string, got {value!r}.")
    if "\x00" in value:
        raise InvalidOptionError(f"{what} must not contain a NUL character, got {value!r}.")
    return value


def check_tenant(tenant: Any) -> str | None:
    return None if tenant is None else check_name(tenant, "tenant")


def check_metadata(metadata: Any, where: str = "metadata") -> dict[str, Any]:
    """``metadata`` as a plain JSON object; one clear error naming the first key that is not JSON-safe.

    JSON-safe: string keys; values ``None``, bool, int, finite float, str, and lists and objects
    of those. Tuples become lists (as JSON would store them).
    """
    if not isinstance(metadata, Mapping):
        raise InvalidOptionError(
            f"{where} must be a mapping of str to JSON values, got {type(metadata).__name__}."
        )
    return {_key(k, where): _value(v, f"{where}[{k!r}]") for k, v in metadata.items()}


def _key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise InvalidOptionError(f"{where} keys must be strings, got the key {key!r} ({type(key).__name__}).")
    return key


def _value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidOptionError(
                f"{where} is {value!r}, which JSON cannot hold; use a finite number or None."
            )
        return value
    if isinstance(value, Mapping):
        return check_metadata(value, where)
    if isinstance(value, list | tuple):
        return [_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise InvalidOptionError(
        f"{where} is a {type(value).__name__}, which is not JSON-safe; use str, int, float, bool, None, "
        "or lists and mappings of those (e.g. a date as an ISO string)."
    )


@dataclass(frozen=True)
class SourceDocument:
    """One document to ingest: ``id`` (its source key), ``text``, JSON-safe ``metadata``, ``tenant``.

    >>> SourceDocument("wiki/rotate-keys", "To rotate the API key ...", {"team": "ops", "year": 2024})

    ``tenant=None`` takes the :class:`Ingestor`'s tenant (if any). Re-ingesting an id replaces that
    document's chunks; two tenants' documents with the same id are two documents.
    """

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tenant: str | None = None

    def __post_init__(self) -> None:
        check_name(self.id, "SourceDocument.id")
        if not isinstance(self.text, str):
            raise InvalidOptionError(
                f"SourceDocument.text of {self.id!r} must be a str, got {type(self.text).__name__}."
            )
        object.__setattr__(self, "metadata", check_metadata(self.metadata, f"metadata of {self.id!r}"))
        object.__setattr__(self, "tenant", check_tenant(self.tenant))


@dataclass(frozen=True)
class ChunkedDocument:
    """A document its caller has chunked already (a framework's nodes or split documents).

    ``chunks`` are stored in order as chunks ``0..n-1`` of source ``id``; ``metadata`` goes with
    every chunk, ``chunk_metadata`` (one mapping per chunk) on top of it for that chunk alone;
    ``vectors`` are precomputed dense vectors (one per chunk, the collection's dimensions), else
    the :class:`Ingestor`'s embedder embeds the chunks. See :meth:`Ingestor.write_chunks`.
    """

    id: str
    chunks: Sequence[str]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    chunk_metadata: Sequence[Mapping[str, Any]] | None = None
    vectors: Sequence[Sequence[float]] | None = None
    tenant: str | None = None

    def __post_init__(self) -> None:
        check_name(self.id, "ChunkedDocument.id")
        if isinstance(self.chunks, str) or not all(isinstance(c, str) for c in self.chunks):
            raise InvalidOptionError(f"ChunkedDocument.chunks of {self.id!r} must be a list of str.")
        object.__setattr__(self, "chunks", list(self.chunks))
        object.__setattr__(self, "metadata", check_metadata(self.metadata, f"metadata of {self.id!r}"))
        object.__setattr__(self, "tenant", check_tenant(self.tenant))
        n = len(self.chunks)
        if self.chunk_metadata is not None:
            if len(self.chunk_metadata) != n:
                raise InvalidOptionError(
                    f"ChunkedDocument {self.id!r}: {len(self.chunk_metadata)} chunk_metadata for {n} chunks; "
                    "give one mapping per chunk (or none)."
                )
            checked = [
                check_metadata(m, f"chunk_metadata[{i}] of {self.id!r}")
                for i, m in enumerate(self.chunk_metadata)
            ]
            object.__setattr__(self, "chunk_metadata", checked)
        if self.vectors is not None and len(self.vectors) != n:
            raise InvalidOptionError(
                f"ChunkedDocument {self.id!r}: {len(self.vectors)} vectors for {n} chunks; "
                "give one per chunk (or none)."
            )

    def metadata_of(self, index: int) -> dict[str, Any]:
        """Chunk ``index``'s metadata: the document's, with the chunk's own on top."""
        own = self.chunk_metadata[index] if self.chunk_metadata is not None else {}
        return {**self.metadata, **own}
