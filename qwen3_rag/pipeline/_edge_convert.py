"""qdrant-client objects (filters, sparse vectors) as Qdrant Edge's own.

Everything above the engines speaks qdrant-client's models (``build_filter`` returns a
``models.Filter``; the sparse encoder makes ``models.SparseVector``), so the Edge engine turns
them into ``qdrant_edge`` objects here. A condition Edge's bindings cannot express is refused with
one clear error rather than dropped: a dropped condition would silently widen a search.
"""

from __future__ import annotations

from typing import Any

from .._errors import InvalidOptionError


def sparse(vector: Any) -> Any:
    import qdrant_edge as qe

    return qe.SparseVector(list(vector.indices), list(vector.values))


def sparse_back(vector: Any) -> Any:
    from qdrant_client import models

    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def edge_filter(where: Any) -> Any:
    """A qdrant-client ``Filter`` (or ``None``) as a ``qdrant_edge.Filter``."""
    if where is None:
        return None
    import qdrant_edge as qe

    def group(conditions: Any) -> list[Any] | None:
        if conditions is None:
            return None
        items = conditions if isinstance(conditions, list) else [conditions]
        return [condition(c) for c in items]

    min_should = None
    if where.min_should is not None:
        min_should = qe.MinShould(group(where.min_should.conditions) or [], where.min_should.min_count)
    return qe.Filter(
        must=group(where.must),
        should=group(where.should),
        must_not=group(where.must_not),
        min_should=min_should,
    )


def condition(cond: Any) -> Any:
    import qdrant_edge as qe
    from qdrant_client import models

    if isinstance(cond, models.Filter):
        return edge_filter(cond)
    if isinstance(cond, models.HasIdCondition):
        return qe.HasIdCondition({str(i) for i in cond.has_id})
    if isinstance(cond, models.IsEmptyCondition):
        return qe.IsEmptyCondition(cond.is_empty.key)
    if isinstance(cond, models.IsNullCondition):
        return qe.IsNullCondition(cond.is_null.key)
    if isinstance(cond, models.FieldCondition):
        match = _match(cond.match) if cond.match is not None else None
        range_: Any = None
        if isinstance(cond.range, models.DatetimeRange):
            d: Any = cond.range
            range_ = qe.RangeDateTime(gte=_iso(d.gte), gt=_iso(d.gt), lte=_iso(d.lte), lt=_iso(d.lt))
        elif cond.range is not None:
            if not isinstance(cond.range, models.Range):
                _unsupported(f"a {type(cond.range).__name__} range")
            r: Any = cond.range  # a Range of numbers (checked above)
            range_ = qe.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt)
        others = ("geo_bounding_box", "geo_radius", "geo_polygon", "values_count")
        if any(getattr(cond, name, None) is not None for name in others):
            _unsupported(f"a geo or values-count condition on {cond.key!r}")
        return qe.FieldCondition(
            cond.key, match=match, range=range_, is_empty=cond.is_empty, is_null=cond.is_null
        )
    return _unsupported(f"a {type(cond).__name__}")


def _match(match: Any) -> Any:
    import numpy as np
    import qdrant_edge as qe
    from qdrant_client import models

    if isinstance(match, models.MatchValue):
        # Edge's binding reads a Python bool as the integer 1 or 0 (bool is an int), which matches
        # no stored true/false; numpy's bool is not an int, so it arrives as a bool.
        value: Any = np.bool_(match.value) if isinstance(match.value, bool) else match.value
        return qe.MatchValue(value)
    if isinstance(match, models.MatchAny):
        values: Any = list(match.any)
        return qe.MatchAny(values)
    if isinstance(match, models.MatchExcept):
        excluded: Any = list(match.except_)
        return qe.MatchExcept(excluded)
    if isinstance(match, models.MatchText):
        return qe.MatchText(match.text)
    return _unsupported(f"a {type(match).__name__} match")


def _iso(moment: Any) -> str | None:
    """A bound of a ``DatetimeRange`` as the RFC 3339 text Edge takes (it refuses ``datetime``)."""
    if moment is None:
        return None
    return moment.isoformat() if hasattr(moment, "isoformat") else str(moment)


def _unsupported(what: str) -> Any:
    raise InvalidOptionError(
        f"The embedded (Qdrant Edge) store cannot filter by {what}. Filter by payload values "
        "(MatchValue, MatchAny, MatchExcept, Range, IsEmpty, IsNull, HasId), or use a Qdrant server."
    )
