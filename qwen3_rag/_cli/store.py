"""``qwen3-rag store``: what an embedded store is, converting an old one, moving one to a server.

qwen3-rag store info                           # engine, version, collections, points
qwen3-rag store upgrade                        # a local-mode folder (older versions) -> Qdrant Edge
qwen3-rag store push --to-url http://qdrant:6333   # the collection, its metadata and sources
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from ..pipeline import DEFAULT_COLLECTION, DEFAULT_QDRANT_PATH


def add_store_parser(sub: Any) -> None:
    store = sub.add_parser(
        "store",
        help="inspect, upgrade or push the embedded Qdrant store",
        description="Inspect an embedded store (engine, version, collections), upgrade a folder made "
        "by qdrant-client's local mode to Qdrant Edge, or push a collection to a Qdrant server.",
    )
    actions = store.add_subparsers(dest="store_command", required=True)

    def where(parser: argparse.ArgumentParser, *, collection: bool = True) -> None:
        parser.add_argument(
            "--qdrant-path",
            default=DEFAULT_QDRANT_PATH,
            help=f"embedded store folder (default: {DEFAULT_QDRANT_PATH})",
        )
        if collection:
            parser.add_argument(
                "--collection", default=DEFAULT_COLLECTION, help=f"collection (default: {DEFAULT_COLLECTION})"
            )

    info = actions.add_parser("info", help="the store's engine, its version, and the collection's size")
    where(info)
    upgrade = actions.add_parser(
        "upgrade",
        help="convert a qdrant-client local-mode folder to Qdrant Edge (copies vectors, no re-embedding)",
    )
    where(upgrade, collection=False)
    push = actions.add_parser(
        "push", help="copy a collection with its metadata and sources to a Qdrant server (resumable)"
    )
    where(push)
    push.add_argument("--to-url", required=True, metavar="URL", help="the server, e.g. http://qdrant:6333")
    push.add_argument("--to-collection", help="collection name on the server (default: the same name)")
    push.add_argument("--api-key", help="the server's API key (default: $QDRANT_API_KEY)")


def run_store(args: argparse.Namespace, out: TextIO) -> int:
    if args.store_command == "upgrade":
        from ..pipeline._upgrade import upgrade_folder

        report = upgrade_folder(
            Path(args.qdrant_path), say=lambda line: print(f"qwen3-rag: {line}", file=sys.stderr)
        )
        print(f"{report.summary()}.", file=out)
        return 0
    from ..pipeline import QdrantStore

    with QdrantStore(args.collection, path=args.qdrant_path, create=False) as source:
        if args.store_command == "info":
            spec = source.open()
            print(
                f"{source.where}: {source.engine.name} {source.engine.version}; collection "
                f"{args.collection!r}: {source.count()} chunks of {spec.model} "
                f"({spec.dimensions} dimensions), "
                f"{len(source.sources.all())} sources.",
                file=out,
            )
            return 0
        from ..pipeline._push import push

        def progress(done: int, total: int) -> None:
            if done == total or done % 10_240 == 0:
                print(f"qwen3-rag: pushed {done}/{total} points", file=sys.stderr)

        with QdrantStore(
            args.to_collection or args.collection, url=args.to_url, api_key=args.api_key
        ) as target:
            pushed = push(source, target, progress=progress)
        print(f"{pushed.summary()}. Use it with --qdrant-url {args.to_url}.", file=out)
    return 0
