"""``--filter`` and ``--tenant`` on the command line: parsed into a filter mapping
(:mod:`qwen3_rag.pipeline._filters`), sources resolved against the collection's records.

Grammar of one ``--filter``: ``FIELD=VALUE[,VALUE...]`` (equals; several values: any of),
``FIELD!=VALUE``, and ranges ``FIELD>=N``, ``FIELD>N``, ``FIELD<=N``, ``FIELD<N`` (numbers, or ISO
dates such as ``2024-01-31``). Several ``--filter`` on different fields must all hold; on one field
they combine (``year>=2020 --filter year<2024`` is one range; ``team=ops --filter team=dev`` any of).
Values are typed: ``true``/``false``, integers and decimals are parsed (an equality on one also
matches the same text stored as a string: ``year=2024`` finds ``2024`` and ``"2024"``), anything else
is a string, and ``"..."`` in double quotes is always a string. ``source`` takes files, folders
(everything ingested under them: ``source=docs/``) and document ids or id prefixes ending in ``/``;
``chunk_index`` whole numbers; any other field is a field of the documents' metadata.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
from collections.abc import Sequence
from typing import Any

from ._errors import InvalidOptionError

FILTER_HELP = (
    "only chunks matching FIELD=VALUE (repeatable; fields must all match): a metadata field "
    "(team=ops; team=ops,dev for any of; ranges year>=2020, year<2024; != too), source=PATH (a file, "
    "or a folder for everything ingested under it; a document id, or an id prefix ending in /), "
    "chunk_index=N"
)
TENANT_HELP = "only this tenant's documents (ingest: store them under it)"

_CLAUSE = re.compile(r"^\s*([^=<>!\s][^=<>!]*?)\s*(>=|<=|!=|=|>|<)(.*)$", re.DOTALL)
_RANGES = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}
_RESERVED = ("source", "chunk_index", "tenant")


def add_tenant_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", metavar="NAME", help=TENANT_HELP)


def parse_filters(items: Sequence[str], tenant: str | None = None) -> dict[str, Any] | None:
    """``--filter`` values (and ``--tenant``) as one filter mapping; malformed ones refused."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        match = _CLAUSE.match(item)
        if match is None or not match.group(3).strip():
            raise InvalidOptionError(
                f"--filter wants FIELD=VALUE, got {item!r} (ranges: FIELD>=N, FIELD<N; also "
                "FIELD!=VALUE); e.g. --filter team=ops or --filter year>=2020."
            )
        key, op, text = match.group(1), match.group(2), match.group(3).strip()
        if key in ("source", "tenant") and op != "=":
            raise InvalidOptionError(
                f"--filter {key} takes = only ({key}=NAME), not ranges or !=; got {item!r}."
            )
        ops = out.setdefault(key, {})
        if op in _RANGES:
            name = _RANGES[op]
            if name in ops:
                raise InvalidOptionError(f"--filter {key}{op} is given twice; give each bound once.")
            ops[name] = _bound(key, op, text)
        else:
            values = ops.setdefault("in" if op == "=" else "nin", [])
            for part in _split(text):
                values.extend(v for v in _value(key, part.strip()) if _distinct(v, values))
    if tenant is not None:
        if "tenant" in out:
            raise InvalidOptionError("Give the tenant once: --tenant NAME, or --filter tenant=NAME.")
        out["tenant"] = {"in": [tenant]}
    return {key: _simplest(ops) for key, ops in out.items()} or None


def _split(text: str) -> list[str]:
    """Comma-separated values; a double-quoted value keeps its commas."""
    return [m.group(0) for m in re.finditer(r'"[^"]*"|[^,]+', text) if m.group(0).strip()]


def _simplest(ops: dict[str, Any]) -> Any:
    """``{"in": [v]}`` as ``v`` and ``{"in": [...]}`` as the list: the plain forms people read."""
    if set(ops) == {"in"}:
        values = ops["in"]
        return values[0] if len(values) == 1 else values
    return ops


def _value(key: str, text: str) -> list[Any]:
    """What ``FIELD=text`` matches: the typed value, and for a number or bool its text as well."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return [text[1:-1]]
    if key == "chunk_index":
        if not re.fullmatch(r"-?\d+", text):
            raise InvalidOptionError(f"--filter chunk_index wants a whole number, got {text!r}.")
        return [int(text)]
    if key in _RESERVED:  # source and tenant are names: never numbers
        return [text]
    typed = _typed(text)
    return [typed] if isinstance(typed, str) else [typed, text]


def _distinct(value: Any, values: list[Any]) -> bool:
    """Whether ``value`` is not in ``values`` yet, by type too (``True == 1`` in Python)."""
    return not any(type(v) is type(value) and v == value for v in values)


def _typed(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", text):
        return float(text)
    return text


def _bound(key: str, op: str, text: str) -> Any:
    typed = _typed(text)
    if isinstance(typed, int | float) and not isinstance(typed, bool):
        return typed
    try:
        _dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidOptionError(
            f"--filter {key}{op}{text}: a range wants a number or an ISO date (e.g. 2024-01-31), "
            f"got {text!r}."
        ) from None
    return text


def resolve_sources(store: Any, filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """``source=`` values as the sources they name: a file as it is, a folder as every file ingested
    under it (as ``remove`` takes folders), a document id as it is, an id prefix ending in ``/`` as
    every document under it. One naming nothing ingested is a mistake to report, not an empty answer.
    Each metadata field must be stored in the collection: a misspelt field would match nothing."""
    from .pipeline._pruning import sources_under
    from .pipeline._sources import DOCUMENT, as_source

    if filters is None:
        return None
    records = store.sources.all()
    tenant = filters.get("tenant")
    if isinstance(tenant, str):
        records = [r for r in records if r.tenant == tenant]
    _check_fields(store, records, filters)
    out = dict(filters)
    wanted = filters.get("source")
    if wanted is None:
        return out
    files = [r for r in records if r.kind != DOCUMENT]
    documents = [r for r in records if r.kind == DOCUMENT]
    found: list[str] = []
    for value in [wanted] if isinstance(wanted, str) else wanted:
        under = value.endswith("/")
        named = [r.source for r in documents if r.source == value or (under and r.source.startswith(value))]
        named += [r.source for r in sources_under(files, [as_source(value)])]
        if not named:
            raise InvalidOptionError(
                f"--filter source={value} matches no ingested file or document in collection "
                f"{store.collection!r}; `qwen3-rag sources` lists them."
            )
        found.extend(s for s in sorted(named) if s not in found)
    out["source"] = found[0] if len(found) == 1 else found
    return out


def _check_fields(store: Any, records: Sequence[Any], filters: dict[str, Any]) -> None:
    known = sorted({field for r in records for field in r.fields})
    for key in filters:
        name = key.removeprefix("metadata.").split(".")[0]
        if key in _RESERVED or name in known:
            continue
        fields = ", ".join([*_RESERVED, *known])
        raise InvalidOptionError(
            f"--filter field {key!r} is not stored with the chunks; the fields are {fields} "
            f"(collection {store.collection!r})."
        )
