"""Filters on chunks: a plain mapping (or a qdrant-client ``Filter``) as one Qdrant ``Filter``.

A mapping's keys are the user's metadata fields (stored nested, so ``team`` filters the payload
path ``metadata.team``; ``metadata.team`` is accepted as it is), except the reserved chunk fields
``source``, ``chunk_index`` and ``tenant``. Values:

- a scalar: equals (``{"team": "ops"}``); a float compares as a number, so ``2`` matches ``2.0``;
- a list, tuple or set: any of them (``{"team": ["ops", "dev"]}``);
- a mapping of operators: ``eq``, ``ne``, ``in``, ``nin``, ``gt``, ``gte``, ``lt``, ``lte``
  (``{"year": {"gte": 2020, "lt": 2024}}``); ranges take numbers, or ISO dates/times as strings.

``source`` takes exact ids and folders or id prefixes ending in ``/`` (everything under them). A
prefix is resolved against the source registry (``sources``: the registered source names), into
the sources it covers: Qdrant has no prefix match on keywords, and a substring match would also
take ``/backup/docs/`` for ``/docs/``. Several keys are all required (AND).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from .._errors import InvalidOptionError
from ._layout import CHUNK_INDEX, METADATA, SOURCE, TENANT

if TYPE_CHECKING:
    from qdrant_client.models import Filter

Where: TypeAlias = "Mapping[str, Any] | Filter | None"
"""What every ``filters=`` / ``query_filter=`` takes: ``None``, a mapping (above) or a qdrant ``Filter``."""

RESERVED_KEYS = (SOURCE, CHUNK_INDEX, TENANT)
"""Filter keys that name chunk fields; every other key is a user metadata field."""
OPERATORS = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte")
_RANGE_OPERATORS = ("gt", "gte", "lt", "lte")
_NO_SOURCE = "\x00"  # no source holds a NUL: matching it matches nothing


def payload_path(key: str) -> str:
    """The payload path a filter key names: reserved keys and ``metadata.*`` as they are."""
    if key in RESERVED_KEYS or key.startswith(f"{METADATA}."):
        return key
    return f"{METADATA}.{key}"


def to_qdrant_filter(
    where: Where,
    *,
    sources: Callable[[], Iterable[str]] | None = None,
    tenant: str | None = None,
) -> Any:
    """``where`` as a qdrant-client ``Filter`` (``None`` when there is nothing to filter).

    ``sources`` lists the registered sources, for ``source`` prefixes (called only when one is
    given); ``tenant`` adds ``tenant == tenant`` to whatever ``where`` asks.
    """
    from qdrant_client import models

    if where is None:
        base = None
    elif isinstance(where, models.Filter):
        base = where
    elif isinstance(where, Mapping):
        base = _from_mapping(where, sources)
    else:
        raise InvalidOptionError(
            "filters must be a mapping of field to value(s) (e.g. {'team': 'ops'}) or a qdrant Filter, "
            f"got {type(where).__name__}."
        )
    if tenant is None:
        return base
    scoped = models.FieldCondition(key=TENANT, match=models.MatchValue(value=tenant))
    return models.Filter(must=[scoped] if base is None else [scoped, base])


def _from_mapping(where: Mapping[str, Any], sources: Callable[[], Iterable[str]] | None) -> Any:
    from qdrant_client import models

    must: list[Any] = []
    must_not: list[Any] = []
    for raw_key, value in where.items():
        if not isinstance(raw_key, str) or not raw_key:
            raise InvalidOptionError(f"filter keys must be non-empty strings, got {raw_key!r}.")
        key = payload_path(raw_key)
        if key == SOURCE:
            value = _expand_sources(value, sources)
        ops = value if isinstance(value, Mapping) else {"eq": value}
        unknown = [op for op in ops if op not in OPERATORS]
        if unknown or not ops:
            raise InvalidOptionError(
                f"filter on {raw_key!r}: unknown operator {unknown[0] if unknown else '(none)'!r}; "
                f"use one of {', '.join(OPERATORS)}, e.g. {{{raw_key!r}: {{'gte': 2020}}}}."
            )
        bounds = {op: ops[op] for op in _RANGE_OPERATORS if op in ops}
        if bounds:
            must.append(_range(key, raw_key, bounds))
        if "eq" in ops:
            must.append(_any_of(key, raw_key, ops["eq"]))
        if "in" in ops:
            must.append(_any_of(key, raw_key, _as_list(raw_key, ops["in"], "in")))
        if "ne" in ops:
            must_not.append(_any_of(key, raw_key, ops["ne"]))
        if "nin" in ops:
            must_not.append(_any_of(key, raw_key, _as_list(raw_key, ops["nin"], "nin")))
    return models.Filter(must=must or None, must_not=must_not or None)


def _as_list(raw_key: str, value: Any, op: str) -> list[Any]:
    if not isinstance(value, list | tuple | set | frozenset):
        raise InvalidOptionError(f"filter on {raw_key!r}: {op!r} takes a list of values, got {value!r}.")
    return list(value)


def _any_of(key: str, raw_key: str, value: Any) -> Any:
    """One condition: equals ``value``, or any of a list (split by type: Qdrant's MatchAny is one type)."""
    from qdrant_client import models

    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    if not values:
        raise InvalidOptionError(
            f"filter on {raw_key!r}: an empty list matches nothing; give at least one value."
        )
    strings = [v for v in values if isinstance(v, str)]
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    conditions: list[Any] = []
    for group in (strings, ints):
        if len(group) == 1:
            conditions.append(models.FieldCondition(key=key, match=models.MatchValue(value=group[0])))
        elif group:
            conditions.append(models.FieldCondition(key=key, match=models.MatchAny(any=group)))
    for v in values:
        if isinstance(v, bool):
            conditions.append(models.FieldCondition(key=key, match=models.MatchValue(value=v)))
        elif isinstance(v, float):
            conditions.append(models.FieldCondition(key=key, range=models.Range(gte=v, lte=v)))
        elif v is None:
            conditions.append(models.IsNullCondition(is_null=models.PayloadField(key=key)))
        elif not isinstance(v, str | int):
            raise InvalidOptionError(
                f"filter on {raw_key!r}: {v!r} is a {type(v).__name__}; filter values are str, int, "
                "float, bool or None (lists of them for any of)."
            )
    return conditions[0] if len(conditions) == 1 else models.Filter(should=conditions)


def _range(key: str, raw_key: str, bounds: dict[str, Any]) -> Any:
    from qdrant_client import models

    values = list(bounds.values())
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return models.FieldCondition(key=key, range=models.Range(**bounds))
    if all(isinstance(v, str | _dt.date) for v in values):
        dates = {op: _as_datetime(raw_key, v) for op, v in bounds.items()}
        return models.FieldCondition(key=key, range=models.DatetimeRange(**dates))
    raise InvalidOptionError(
        f"filter on {raw_key!r}: a range takes numbers or ISO dates (e.g. '2024-01-31'), got "
        f"{', '.join(repr(v) for v in values)}."
    )


def _as_datetime(raw_key: str, value: Any) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, _dt.date):
        moment = _dt.datetime(value.year, value.month, value.day)
    else:
        try:
            moment = _dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidOptionError(
                f"filter on {raw_key!r}: {value!r} is neither a number nor an ISO date (e.g. '2024-01-31')."
            ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_dt.timezone.utc)


def _expand_sources(value: Any, sources: Callable[[], Iterable[str]] | None) -> Any:
    """``source`` values with every prefix (ending in ``/``) replaced by the sources under it."""
    if isinstance(value, Mapping):
        return {
            op: _expand_sources(v, sources) if op in ("eq", "in", "ne", "nin") else v
            for op, v in value.items()
        }
    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    if not any(isinstance(v, str) and v.endswith("/") for v in values):
        return value
    if sources is None:
        raise InvalidOptionError(
            "a source filter ending in '/' (everything under a folder or id prefix) needs the store's "
            "source list: pass the filter to QdrantStore.query or a retriever rather than converting "
            "it alone."
        )
    known = sorted(set(sources()))
    out: list[str] = []
    for v in values:
        if isinstance(v, str) and v.endswith("/"):
            out.extend(s for s in known if s.startswith(v) and s not in out)
        elif v not in out:
            out.append(v)
    return out or [_NO_SOURCE]
