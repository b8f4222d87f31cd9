"""Which sources ``sources`` lists and ``remove`` removes: files and documents, of one tenant.

A file is named by its path (a folder: everything ingested under it), a document by its id (an id
prefix ending in ``/``: every document under it; ids that look like paths, as ``qwen3-rag eval``
makes, also by the path). Without ``--tenant``, ``sources`` lists every tenant's sources and
``remove`` takes only sources without a tenant, so no tenant's documents go by accident.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def scoped_records(store: Any, tenant: str | None, *, listing: bool = True) -> list[Any]:
    """The store's records of ``tenant`` (``None``: all of them when listing, else those without)."""
    records = store.sources.all()
    if tenant is None and listing:
        return list(records)
    return [r for r in records if r.tenant == tenant]


def record_note(record: Any) -> str:
    """What a ``sources`` row adds after the name: a document's kind, and a tenant."""
    notes = []
    if record.kind == "document":
        notes.append("document")
    if record.tenant is not None:
        notes.append(f"tenant {record.tenant}")
    return f"  ({', '.join(notes)})" if notes else ""


def sources_named(
    records: Sequence[Any], names: Sequence[str], collection: str, tenant: str | None
) -> list[Any]:
    """The records ``names`` (paths, folders, document ids, id prefixes) name, each once; a name
    matching nothing is said on stderr (already gone is the state asked for: not an error)."""
    from .pipeline._pruning import sources_under
    from .pipeline._sources import as_source

    scoped = [r for r in records if r.tenant == tenant]
    chosen: dict[str, Any] = {}
    for name in names:
        root = as_source(name)
        under = name.endswith("/")
        matched = [
            r
            for r in scoped
            if r.kind == "document" and (r.source == name or (under and r.source.startswith(name)))
        ]
        matched += sources_under(scoped, [root])
        if not matched:
            others = sorted(
                {
                    r.tenant
                    for r in records
                    if r.tenant != tenant and (r.source == name or r.source.startswith(root))
                },
                key=str,
            )
            hint = f" (found under --tenant {others[0]})" if others and others[0] is not None else ""
            print(
                f"qwen3-rag: nothing ingested from {name} ({root}) in collection {collection!r}{hint}; "
                "`qwen3-rag sources` lists what is there.",
                file=sys.stderr,
            )
        for record in matched:
            chosen.setdefault(record.key, record)
    return list(chosen.values())
