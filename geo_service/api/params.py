"""Query parameters of the OGC API, parsed into ``ItemsQuery`` (HTTP words in, domain values out)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from geo_service.errors import InvalidBBox, InvalidParameter
from geo_service.layers import Layer, Property
from geo_service.queries.cql import parse_filter
from geo_service.queries.crs import CRS, parse_crs
from geo_service.queries.items import Instant, ItemsQuery
from geo_service.queries.paging import decode_cursor, sort_keys
from geo_service.settings import Settings

#: Parameters of the standard (and ours) that are not property filters.
STANDARD_PARAMS = frozenset({
    "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "sortby", "properties", "filter",
    "filter-lang", "filter-crs", "f", "precision", "lang", "cursor", "simplify", "zoom",
})
_TRUE = {"true", "1", "yes", "ja"}
_FALSE = {"false", "0", "no", "nein"}


def parse_bbox(value: str, crs: CRS) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or 6 numbers with heights) in the CRS's own axis order."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (4, 6):
        raise InvalidBBox(
            f"bbox '{value[:80]}' needs 4 numbers (minx,miny,maxx,maxy) or 6 with heights."
        )
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InvalidBBox(f"bbox '{value[:80]}' contains something that is not a number.") from None
    if not all(math.isfinite(n) for n in nums):
        raise InvalidBBox("bbox values must be finite numbers.")
    x0, y0, x1, y1 = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if x0 > x1 or y0 > y1:
        raise InvalidBBox(
            f"bbox '{value[:80]}': the lower corner must come first (minx <= maxx, miny <= maxy)."
        )
    bx0, by0, bx1, by1 = crs.bounds
    if x0 < bx0 or x1 > bx1 or y0 < by0 or y1 > by1:
        raise InvalidBBox(f"bbox '{value[:80]}' lies outside the valid range of {crs.short}.")
    return (x0, y0, x1, y1)


def parse_instant(value: str) -> Instant | None:
    value = value.strip()
    if value in ("..", ""):
        return None
    try:
        if "T" in value or "t" in value:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(
            f"datetime '{value[:60]}' is not an RFC 3339 date or time (e.g. 2024-08-19 or "
            "2024-08-19T14:00:00Z)."
        ) from None


def parse_datetime(value: str) -> tuple[Instant | None, Instant | None]:
    """An instant, or an interval ``start/end`` with ``..`` for an open end."""
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = parse_instant(start_text), parse_instant(end_text)
        if start is None and end is None:
            raise InvalidParameter("datetime '../..' names no time at all.")
        if start is not None and end is not None and _as_datetime(start) > _as_datetime(end):
            raise InvalidParameter("datetime: the interval's start lies after its end.")
        return (start, end)
    instant = parse_instant(value)
    if instant is None:
        raise InvalidParameter("datetime needs a date, a time or an interval.")
    if isinstance(instant, dt.date) and not isinstance(instant, dt.datetime):
        # A whole day: from its first to its last moment.
        return (instant, instant)
    return (instant, instant)


def _as_datetime(value: Instant) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.timezone.utc)


def parse_int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameter(f"{name} '{value[:40]}' is not a whole number.") from None
    if not low <= number <= high:
        raise InvalidParameter(f"{name} must be between {low} and {high}, not {number}.")
    return number


def parse_number(value: str, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidParameter(f"{name} '{value[:40]}' is not a number.") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidParameter(f"{name} must be between {low:g} and {high:g}.")
    return number


def parse_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidParameter(f"{name} '{value[:20]}' is not true or false.")


def coerce_value(prop: Property, value: str) -> Any:
    """A query-string value as the property's type."""
    try:
        if prop.type == "integer":
            number = int(value)
            if not -(2**63) <= number < 2**63:  # PostgreSQL's bigint; beyond it the database fails
                raise ValueError
            return number
        if prop.type == "number":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if prop.type == "boolean":
            return parse_bool(value, prop.name)
        if prop.type in ("date", "datetime"):
            instant = parse_instant(value)
            if instant is None:
                raise ValueError
            if prop.type == "date":
                return instant.date() if isinstance(instant, dt.datetime) else instant
            return _as_datetime(instant)
        if "\x00" in value:
            raise ValueError
        return value
    except (ValueError, InvalidParameter, OverflowError):
        raise InvalidParameter(f"'{value[:60]}' is not a valid value for {prop.name} ({prop.type}).") from None


def parse_items_query(layer: Layer, params: Mapping[str, str], settings: Settings,
                      multi: Mapping[str, list[str]] | None = None) -> ItemsQuery:
    """Check every parameter of an items request and build the query.

    Unknown parameters are rejected (a typo must not silently return everything).
    """
    query = ItemsQuery(limit=settings.default_limit)
    filterable = {p.name: p for p in layer.public_properties if p.filterable}
    unknown = [k for k in params if k not in STANDARD_PARAMS and k not in filterable]
    if unknown:
        names = ", ".join(sorted(filterable)) or "none"
        raise InvalidParameter(
            f"Unknown parameter or property '{unknown[0][:60]}'. Filterable properties of "
            f"{layer.id}: {names}."
        )
    query.crs = parse_crs(params.get("crs"), parameter="crs")
    query.bbox_crs = parse_crs(params.get("bbox-crs"), parameter="bbox-crs")
    query.filter_crs = parse_crs(params.get("filter-crs"), parameter="filter-crs")
    if "bbox" in params:
        query.bbox = parse_bbox(params["bbox"], query.bbox_crs)
    elif "bbox-crs" in params:
        raise InvalidParameter("bbox-crs is given without a bbox.")
    if "limit" in params:
        query.limit = parse_int(params["limit"], "limit", 1, settings.max_limit)
    if "offset" in params:
        query.offset = parse_int(params["offset"], "offset", 0, 10_000_000)
    if "precision" in params:
        query.precision = parse_int(params["precision"], "precision", 0, 15)
    if "simplify" in params:
        query.simplify_m = parse_number(params["simplify"], "simplify", 0, 100_000)
    if "zoom" in params:
        query.zoom = parse_int(params["zoom"], "zoom", 0, 24)
    if "datetime" in params:
        if not layer.temporal:
            raise InvalidParameter(f"The layer {layer.id} has no dates; datetime cannot be applied.")
        query.interval = parse_datetime(params["datetime"])
    if "sortby" in params:
        query.sortby = parse_sortby(layer, params["sortby"])
    if "properties" in params:
        query.properties = parse_properties(layer, params["properties"])
    if "cursor" in params:
        if "offset" in params:
            raise InvalidParameter("cursor and offset cannot be combined: follow the next link.")
        query.after = decode_cursor(sort_keys(layer, query.sortby), params["cursor"], coerce_value)
    if "filter" in params:
        query.cql = parse_filter(params["filter"], params.get("filter-lang"))
    elif "filter-lang" in params:
        raise InvalidParameter("filter-lang is given without a filter.")
    for name, prop in filterable.items():
        values = (multi or {}).get(name) or ([params[name]] if name in params else [])
        if not values:
            continue
        split = [v.strip() for raw in values for v in (raw.split(",") if prop.is_array else [raw])]
        split = [v for v in split if v]
        if not split:
            raise InvalidParameter(f"{name} is empty.")
        query.equals[name] = [coerce_value(prop, v) for v in split]
    return query


def parse_sortby(layer: Layer, value: str) -> list[tuple[str, bool]]:
    sortable = {p.name for p in layer.public_properties if p.sortable} | {"id"}
    keys = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in sortable:
            raise InvalidParameter(
                f"sortby '{name[:60]}' is not sortable. Sortable: {', '.join(sorted(sortable))}."
            )
        keys.append((name, descending))
    if not keys:
        raise InvalidParameter("sortby is empty.")
    return keys


def parse_properties(layer: Layer, value: str) -> list[str]:
    public = {p.name for p in layer.public_properties}
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in public:
            raise InvalidParameter(
                f"properties: '{name[:60]}' is not a property of {layer.id}. "
                f"Properties: {', '.join(sorted(public))}."
            )
    return names
