"""``qwen3-rag remove``: delete ingested files (or everything under folders) from a collection."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from .._wording import plural
from .options import add_command, store_options
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


def run(args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline._pruning import remove_sources, sources_under
    from ..pipeline._sources import as_source

    roots = [as_source(p) for p in args.paths]
    with open_store(args) as store:
        store.open()
        records = store.sources.all()
        for path, root in zip(args.paths, roots, strict=True):
            if not sources_under(records, [root]):
                # Already gone is the state asked for: say so, and succeed (scripts re-run removals).
                print(
                    f"qwen3-rag: nothing ingested from {path} ({root}) in collection "
                    f"{args.collection!r}; `qwen3-rag sources` lists what is there.",
                    file=sys.stderr,
                )
        store.sources.create()
        files, chunks = remove_sources(store, sources_under(records, roots))
        left = store.count()
        print(
            f"Removed {plural(files, 'file')}, {plural(chunks, 'chunk')}. "
            f"Collection {args.collection!r}: {plural(left, 'chunk')}.",
            file=out,
        )
    return 0
