"""``qwen3-rag remove``: delete ingested files (or everything under folders) from a collection."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from .._wording import plural
from .filters import add_tenant_argument
from .options import add_command, store_options
from .source_records import scoped_records, sources_named
from .store_access import open_store


def add_parser(sub: Any) -> None:
    remove = add_command(
        sub,
        "remove",
        "delete files (or everything under folders) from a collection",
        "Delete the chunks of ingested files, or of everything ingested under folders, from a "
        "collection. The files themselves are not touched and need not exist any more.",
    )
    remove.add_argument(
        "paths", nargs="+", metavar="PATH", help="ingested files or folders (they need not exist any more)"
    )
    store_options(remove)
    add_tenant_argument(remove)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline._pruning import remove_sources

    with open_store(args) as store:
        store.open()
        records = scoped_records(store, None)
        doomed = sources_named(records, args.paths, store.collection, args.tenant)
        store.sources.create()
        removed, chunks = remove_sources(store, doomed)
        documents = sum(1 for r in doomed if r.kind == "document")
        left = store.count()
        what = [plural(removed - documents, "file")] + ([plural(documents, "document")] if documents else [])
        print(
            f"Removed {', '.join(what)}, {plural(chunks, 'chunk')}. "
            f"Collection {args.collection!r}: {plural(left, 'chunk')}.",
            file=out,
        )
    return 0
