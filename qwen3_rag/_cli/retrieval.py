"""What ``query`` and ``chat`` share: ``--filter``, the two-stage retriever, printed results."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, TextIO

from .._errors import InvalidOptionError
from .models import instruction, load_options


def filters(items: Sequence[str]) -> dict[str, Any] | None:
    """``--filter`` values as a filter mapping; unknown fields and bad values are refused."""
    from ..pipeline._sources import as_source
    from ..pipeline._store import CHUNK_FIELDS

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidOptionError(f"--filter wants FIELD=VALUE, got {item!r}.")
        if key not in CHUNK_FIELDS:
            raise InvalidOptionError(
                f"--filter field {key!r} is not stored with the chunks; the fields are "
                f"{', '.join(CHUNK_FIELDS)}."
            )
        parsed: Any = value
        if key == "source":
            parsed = as_source(value)  # the key ingest stored: absolute, symlinks resolved
        elif key == "chunk_index":
            if not value.lstrip("-").isdigit():
                raise InvalidOptionError(f"--filter chunk_index wants a whole number, got {value!r}.")
            parsed = int(value)
        out.setdefault(key, []).append(parsed)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()} or None


def resolve_source_filter(store: Any, filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """``source=`` values as the ingested files they name: a file as it is, a folder as every file
    ingested under it (as ``remove`` takes folders). One naming nothing ingested is a mistake to
    report, not an empty answer."""
    from ..pipeline._pruning import sources_under

    wanted = (filters or {}).get("source")
    if filters is None or wanted is None:
        return filters
    records = store.sources.all()
    files: list[str] = []
    for source in [wanted] if isinstance(wanted, str) else wanted:
        found = sorted(r.source for r in sources_under(records, [source]))
        if not found:
            raise InvalidOptionError(
                f"--filter source={source} matches no ingested file in collection {store.collection!r}; "
                "`qwen3-rag sources` lists them."
            )
        files.extend(f for f in found if f not in files)
    return {**filters, "source": files[0] if len(files) == 1 else files}


def retriever(args: argparse.Namespace, store: Any, recorded: Any) -> Any:
    """The two-stage retriever over ``store``, whose ``open()`` returned ``recorded`` (the
    collection is read once per command)."""
    from ..pipeline import TwoStageRetriever

    return TwoStageRetriever.from_collection(
        store,
        recorded=recorded,
        embedding_model=args.embedding_model,
        dimensions=args.dimensions,
        reranker=args.reranker_model,
        device=None,  # in the options below: a remote model takes no device
        dtype=None,
        embedding_options=load_options(args, "embedding"),
        reranker_options=load_options(args, "reranker"),
        top_k=args.top_k,
        top_n=args.top_n,
        hybrid=args.hybrid,
        instruction=instruction(args),
        min_score=args.min_score,
    )


def print_results(question: str, results: Sequence[Any], out: TextIO) -> None:
    from .answers import extractive_answer

    print(extractive_answer(question, results), file=out)
