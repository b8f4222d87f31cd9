"""LlamaIndex ``MetadataFilters`` as one qdrant-client ``Filter`` on a qwen3-rag collection.

Keys name node metadata, stored under the payload key ``metadata`` (``team`` -> ``metadata.team``);
``source``, ``chunk_index`` and ``tenant`` name the chunk fields themselves, as in qwen3-rag's own
filter mappings. Operators: ``==``, ``!=``, ``in``, ``nin``, ``>``, ``<``, ``>=``, ``<=``; conditions
``and``, ``or``, ``not``, nested ``MetadataFilters`` included. ``!=`` and ``nin`` also match nodes
without the field (as "not equal" reads). Any other operator is refused with the list of these,
never dropped: a dropped condition would silently widen a search.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from qdrant_client import models

from qwen3_rag import InvalidOptionError

RESERVED_KEYS = ("source", "chunk_index", "tenant")
_METADATA = "metadata"
_RANGES = {
    FilterOperator.GT: "gt",
    FilterOperator.LT: "lt",
    FilterOperator.GTE: "gte",
    FilterOperator.LTE: "lte",
}
SUPPORTED = ("==", "!=", "in", "nin", ">", "<", ">=", "<=")


def payload_key(key: str) -> str:
    """The payload path of a filter key: the chunk fields as they are, anything else in ``metadata``."""
    if key in RESERVED_KEYS or key.startswith(f"{_METADATA}."):
        return key
    return f"{_METADATA}.{key}"


def to_qdrant_filter(filters: MetadataFilters | None) -> models.Filter | None:
    """``filters`` as a qdrant-client ``Filter`` (``None`` when there is nothing to filter)."""
    if filters is None or not filters.filters:
        return None
    conditions = [_condition(item) for item in filters.filters if not _empty(item)]
    if not conditions:
        return None
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return models.Filter(must=conditions)
    if condition == FilterCondition.OR:
        return models.Filter(should=conditions)
    if condition == FilterCondition.NOT:
        return models.Filter(must_not=conditions)
    raise InvalidOptionError(f"MetadataFilters condition {condition!r} is not supported: use and, or, not.")


def _empty(item: MetadataFilter | MetadataFilters) -> bool:
    return isinstance(item, MetadataFilters) and not item.filters


def _condition(item: MetadataFilter | MetadataFilters) -> Any:
    if isinstance(item, MetadataFilters):
        return to_qdrant_filter(item)
    key, value, op = payload_key(item.key), item.value, item.operator
    if op == FilterOperator.EQ:
        return _equals(key, value)
    if op == FilterOperator.NE:
        return models.Filter(must_not=[_equals(key, value)])
    if op in (FilterOperator.IN, FilterOperator.NIN):
        values = value if isinstance(value, list) else [value]
        if not values:
            raise InvalidOptionError(f"Filter {item.key} {op.value} []: give at least one value.")
        anyof = _any_of(key, values)
        return anyof if op == FilterOperator.IN else models.Filter(must_not=[anyof])
    if op in _RANGES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidOptionError(f"Filter {item.key} {op.value} {value!r}: a range compares numbers.")
        return models.FieldCondition(key=key, range=models.Range(**{_RANGES[op]: value}))
    raise InvalidOptionError(
        f"Filter operator {op.value!r} (on {item.key!r}) is not supported by Qwen3RagVectorStore: "
        f"use one of {', '.join(SUPPORTED)}."
    )


def _equals(key: str, value: Any) -> Any:
    if isinstance(value, list):
        raise InvalidOptionError(f"Filter {key} == {value!r}: to match any of a list, use the 'in' operator.")
    if isinstance(value, float):  # a float field stores as a number: match it as one
        return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _any_of(key: str, values: list[Any]) -> Any:
    """Any of ``values``: Qdrant's ``MatchAny`` takes one type, so strings and integers apart,
    floats as ranges."""
    strings = [v for v in values if isinstance(v, str)]
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    floats = [v for v in values if isinstance(v, float)]
    parts: list[Any] = [
        models.FieldCondition(key=key, match=models.MatchAny(any=g)) for g in (strings, ints) if g
    ]
    parts += [_equals(key, v) for v in floats]
    return parts[0] if len(parts) == 1 else models.Filter(should=parts)
