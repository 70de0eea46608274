"""Query parameters of the OGC API, parsed into ``ItemsQuery`` (HTTP words in, domain values out)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from geo_service.errors import InvalidBBox, InvalidParameter
from geo_service.layers import Layer, Property
from geo_service.queries.cql import FilterLimits, parse_filter
from geo_service.queries import values
from geo_service.queries.crs import CRS, parse_crs
from geo_service.queries.items import Instant, ItemsQuery
from geo_service.queries.paging import decode_cursor, sort_keys
from geo_service.queries.values import as_datetime
from geo_service.settings import Settings

#: Parameters of the standard (and ours) that are not property filters.
STANDARD_PARAMS = frozenset({
    "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "sortby", "properties", "filter",
    "filter-lang", "filter-crs", "f", "precision", "lang", "cursor", "simplify", "zoom",
})


def parse_bbox(value: str, crs: CRS) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or 6 numbers with heights) in the CRS's own axis order."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) not in (4, 6):
        raise InvalidBBox(
            f"bbox »{values.shown(value, 80)}« braucht 4 Zahlen (minx,miny,maxx,maxy) oder 6 mit Höhen."
        )
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise InvalidBBox(f"bbox »{values.shown(value, 80)}« enthält etwas, das keine Zahl ist.") from None
    if not all(math.isfinite(n) for n in nums):
        raise InvalidBBox("bbox: die Werte müssen endliche Zahlen sein.")
    x0, y0, x1, y1 = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if x0 > x1 or y0 > y1:
        raise InvalidBBox(
            f"bbox »{values.shown(value, 80)}«: die untere Ecke kommt zuerst (minx <= maxx, miny <= maxy)."
        )
    bx0, by0, bx1, by1 = crs.bounds
    if x0 < bx0 or x1 > bx1 or y0 < by0 or y1 > by1:
        raise InvalidBBox(f"bbox »{values.shown(value, 80)}« liegt außerhalb des gültigen Bereichs von "
                          f"{crs.short}.")
    return (x0, y0, x1, y1)


def parse_instant(value: str, what: str = "datetime") -> Instant | None:
    """An RFC 3339 date or time inside the calendar; None for ``..`` (an open end)."""
    return values.parse_instant(value, what)


def parse_datetime(value: str) -> tuple[Instant | None, Instant | None]:
    """An instant, or an interval ``start/end`` with ``..`` for an open end."""
    if "/" in value:
        start_text, _, end_text = value.partition("/")
        start, end = parse_instant(start_text), parse_instant(end_text)
        if start is None and end is None:
            raise InvalidParameter("datetime: »../..« nennt keine Zeit; geben Sie mindestens "
                                   "einen Anfang oder ein Ende an.")
        if start is not None and end is not None and as_datetime(start) > as_datetime(end):
            raise InvalidParameter("datetime: der Anfang des Zeitraums liegt nach seinem Ende.")
        return (start, end)
    instant = parse_instant(value)
    if instant is None:
        raise InvalidParameter("datetime braucht ein Datum, einen Zeitpunkt oder einen Zeitraum "
                               "(z. B. 2024-08-19 oder 2024-01-01/2024-12-31).")
    # A whole day (a date) reaches from its first to its last moment.
    return (instant, instant)


def parse_int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidParameter(f"{name}: »{values.shown(value, 40)}« ist keine ganze Zahl.") from None
    if not low <= number <= high:
        raise InvalidParameter(f"{name} muss zwischen {low} und {high} liegen, nicht bei "
                               f"{values.shown(number, 30)}.")
    return number


def parse_ids(value: str, name: str) -> list[int]:
    """Feature ids separated by commas (``ids=3,17``); each one fits a ``bigint``."""
    return [values.as_bigint(v, name) for v in value.split(",") if v.strip()]


def parse_number(value: str, name: str, low: float, high: float) -> float:
    number = values.as_float(value, name)
    if not low <= number <= high:
        raise InvalidParameter(f"{name} muss zwischen {low:g} und {high:g} liegen.")
    return number


def parse_bool(value: str, name: str) -> bool:
    return values.parse_bool(value, name)


def coerce_value(prop: Property, value: str) -> Any:
    """A query-string value as the property's type (the same rules as values in a filter)."""
    return values.coerce(prop, value)


async def parse_items_query(layer: Layer, params: Mapping[str, str], settings: Settings,
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
            f"Unbekannter Parameter oder unbekannte Eigenschaft »{values.shown(unknown[0], 60)}«. "
            f"Filterbare Eigenschaften von {layer.id}: {names}."
        )
    query.crs = parse_crs(params.get("crs"), parameter="crs")
    query.bbox_crs = parse_crs(params.get("bbox-crs"), parameter="bbox-crs")
    query.filter_crs = parse_crs(params.get("filter-crs"), parameter="filter-crs")
    if "bbox" in params:
        query.bbox = parse_bbox(params["bbox"], query.bbox_crs)
    elif "bbox-crs" in params:
        raise InvalidParameter("bbox-crs ist angegeben, aber keine bbox.")
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
            raise InvalidParameter(f"Die Ebene {layer.id} hat keine Zeitangaben; datetime passt nicht.")
        query.interval = parse_datetime(params["datetime"])
    if "sortby" in params:
        query.sortby = parse_sortby(layer, params["sortby"])
    if "properties" in params:
        query.properties = parse_properties(layer, params["properties"])
    if "cursor" in params:
        if "offset" in params:
            raise InvalidParameter("cursor und offset lassen sich nicht verbinden: folgen Sie dem next-Link.")
        query.after = decode_cursor(sort_keys(layer, query.sortby), params["cursor"], coerce_value)
    if "filter" in params:
        query.cql = await parse_filter(params["filter"], params.get("filter-lang"), FilterLimits(
            max_length=settings.filter_max_length, max_nesting=settings.filter_max_nesting,
            timeout_s=settings.filter_parse_timeout_s))
    elif "filter-lang" in params:
        raise InvalidParameter("filter-lang ist angegeben, aber kein filter.")
    for name, prop in filterable.items():
        given = (multi or {}).get(name) or ([params[name]] if name in params else [])
        if not given:
            continue
        split = [v.strip() for raw in given for v in (raw.split(",") if prop.is_array else [raw])]
        split = [v for v in split if v]
        if not split:
            raise InvalidParameter(f"{name} ist leer.")
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
                f"sortby: nach »{values.shown(name, 60)}« lässt sich nicht sortieren. Sortierbar: "
                f"{', '.join(sorted(sortable))}."
            )
        keys.append((name, descending))
    if not keys:
        raise InvalidParameter("sortby ist leer.")
    return keys


def parse_properties(layer: Layer, value: str) -> list[str]:
    public = {p.name for p in layer.public_properties}
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in public:
            raise InvalidParameter(
                f"properties: »{values.shown(name, 60)}« ist keine Eigenschaft von {layer.id}. "
                f"Eigenschaften: {', '.join(sorted(public))}."
            )
    return names
