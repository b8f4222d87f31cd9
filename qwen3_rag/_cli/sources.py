"""``qwen3-rag sources``: the ingested files of a collection with their chunk counts."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from .._wording import plural
from .filters import add_tenant_argument
from .options import add_command, store_options
from .source_records import record_note, scoped_records
from .store_access import open_store


def add_parser(sub: Any) -> None:
    sources = add_command(
        sub,
        "sources",
        "list the ingested files with their chunk counts",
        "List the files (sources) of a collection: chunk count, when last written, and whether an "
        "interrupted run left one incomplete.",
    )
    sources.add_argument("--json", action="store_true", help="print the sources as JSON")
    store_options(sources)
    add_tenant_argument(sources)


def run(args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline._naming import printable  # control characters in a name would break the table

    with open_store(args) as store:
        store.open()
        records = scoped_records(store, args.tenant)
        if args.json:
            rows = [r.to_payload() for r in records]
            print(json.dumps({"collection": args.collection, "sources": rows}, indent=2), file=out)
            return 0
        for r in records:
            state = "" if r.complete else "  (incomplete: run ingest again)"
            print(
                f"{r.chunks:>7}  {r.ingested_at or '-':<25}  {printable(r.source)}{record_note(r)}{state}",
                file=out,
            )
        total = sum(r.chunks for r in records)
        print(f"{plural(len(records), 'source')}, {plural(total, 'chunk')}.", file=out)
    return 0
