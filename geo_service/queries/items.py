"""Items of a layer: filters to SQL, GeoJSON features assembled in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.layers import Layer, Property
from geo_service.tools.opening import BERLIN
from geo_service.queries.crs import CRS, DEFAULT
from geo_service.queries.cql import FilterCompiler
from geo_service.queries.paging import (
    CountRule,
    Page,
    after_sql,
    count_after_stream,
    encode_cursor,
    fetch_page,
    key_json_sql,
    order_by_sql,
    sort_keys,
    stream_rows,
)
from geo_service.queries.sql import (
    Params,
    bind_value,
    layer_scope,
    properties_object,
    table_of,
    value_expr,
    where_clause,
)

Instant = dt.date | dt.datetime


@dataclass
class ItemsQuery:
    """What a client asked of a layer's items, already parsed and checked."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: CRS = DEFAULT
    interval: tuple[Instant | None, Instant | None] | None = None
    equals: dict[str, list[Any]] = field(default_factory=dict)
    cql: dict[str, Any] | None = None
    filter_crs: CRS = DEFAULT
    sortby: list[tuple[str, bool]] = field(default_factory=list)
    properties: list[str] | None = None
    crs: CRS = DEFAULT
    precision: int | None = None
    limit: int = 100
    offset: int = 0
    ids: list[int] | None = None
    #: Sort key values of the last feature of the previous page (keyset paging), from a cursor.
    after: list[Any] | None = None
    #: Simplification tolerance in metres (lines and polygons; ST_SimplifyPreserveTopology).
    simplify_m: float | None = None
    #: Web map zoom the geometries are for: half a pixel's tolerance and matching precision.
    zoom: int | None = None


def envelope_sql(bbox: tuple[float, float, float, float], crs: CRS, params: Params) -> str:
    """The bbox as a 4326 polygon; a lat-first CRS gives (lat, lon, lat, lon)."""
    x0, y0, x1, y1 = bbox
    if crs.lat_first:
        x0, y0, x1, y1 = y0, x0, y1, x1
    nums = ", ".join(params.add(float(v)) for v in (x0, y0, x1, y1))
    envelope = f"ST_MakeEnvelope({nums}, {crs.srid})"
    if crs.srid == 4326:
        return envelope
    # Densify before reprojecting so the box's edges stay where the client drew them.
    return f"ST_Transform(ST_Segmentize({envelope}, ({params.add(float(x1 - x0))} / 16.0)), 4326)"


def _coerce_instant(prop: Property, value: Instant, *, upper: bool = False) -> Instant:
    """An instant as the property's type; a whole day, as an upper bound, reaches to its end
    (days are days in Lower Saxony: Europe/Berlin)."""
    if prop.type == "date" and isinstance(value, dt.datetime):
        return value.astimezone(BERLIN).date()
    if prop.type == "datetime" and not isinstance(value, dt.datetime):
        if upper:
            return dt.datetime.combine(value + dt.timedelta(days=1), dt.time(), tzinfo=BERLIN) - dt.timedelta(microseconds=1)
        return dt.datetime.combine(value, dt.time(), tzinfo=BERLIN)
    return value


def conditions(layer: Layer, query: ItemsQuery, params: Params, alias: str = "t") -> list[str]:
    """Every WHERE condition of a query, values bound through ``params``."""
    found: list[str] = []
    scope = layer_scope(layer, params, alias)
    if scope:
        found.append(scope)
    if query.bbox is not None:
        found.append(f"ST_Intersects({alias}.geom, {envelope_sql(query.bbox, query.bbox_crs, params)})")
    if query.ids is not None:
        found.append(f"{alias}.id = ANY({params.add(query.ids, 'bigint[]')})")
    if query.interval is not None and layer.temporal:
        start_prop, end_prop = (layer.property(n) for n in layer.temporal)
        assert start_prop is not None and end_prop is not None
        start, end = value_expr(layer, start_prop, alias), value_expr(layer, end_prop, alias)
        low, high = query.interval
        if high is not None:
            found.append(f"{start} IS NULL OR {start} <= {params.add(_coerce_instant(start_prop, high, upper=True))}")
        if low is not None:
            # No end: a single date (offers) or an ongoing project: the start stands in for it,
            # unless there is none, in which case the entry is open-ended.
            found.append(
                f"coalesce({end}, {start}) IS NULL OR "
                f"coalesce({end}, {start}) >= {params.add(_coerce_instant(end_prop, low))}"
                if end_prop.type == start_prop.type
                else f"{end} IS NULL OR {end} >= {params.add(_coerce_instant(end_prop, low))}"
            )
    for name, values in query.equals.items():
        prop = layer.property(name)
        assert prop is not None
        expr = value_expr(layer, prop, alias)
        if prop.is_array:
            found.append(f"{expr} && {params.add([str(v) for v in values], 'text[]')}")
        elif len(values) == 1:
            found.append(f"{expr} = {bind_value(params, prop, values[0])}")
        else:
            found.append(f"{expr} IN ({', '.join(bind_value(params, prop, v) for v in values)})")
    if query.cql is not None:
        found.append(FilterCompiler(layer, params, query.filter_crs, alias).compile(query.cql))
    return found


def order_by(layer: Layer, query: ItemsQuery, alias: str = "t") -> str:
    return order_by_sql(sort_keys(layer, query.sortby, alias))


#: Metres per degree of latitude: simplification runs on lon/lat, tolerances are asked in metres.
METRES_PER_DEGREE = 111_320.0


def zoom_pixel_degrees(zoom: int) -> float:
    """The width of one pixel of a 256-pixel web map tile at ``zoom``, in degrees of longitude."""
    return 360.0 / (256 * 2**zoom)


def simplify_tolerance(query: ItemsQuery) -> float | None:
    """Tolerance in degrees: the larger of ``simplify_m`` and half a pixel at ``zoom``."""
    tolerances = []
    if query.simplify_m:
        tolerances.append(query.simplify_m / METRES_PER_DEGREE)
    if query.zoom is not None:
        tolerances.append(zoom_pixel_degrees(query.zoom) / 2)
    return max(tolerances) if tolerances else None


def output_precision(query: ItemsQuery, default_precision: int) -> int:
    """Decimal places: asked for, else what ``zoom`` can show, else the CRS's (~0.1 m)."""
    if query.precision is not None:
        return query.precision
    if query.crs.srid != 4326:
        return query.crs.precision
    if query.zoom is not None:
        # Enough decimals for a tenth of a pixel, never more than the default.
        return min(default_precision, max(0, math.ceil(-math.log10(zoom_pixel_degrees(query.zoom) / 10))))
    return default_precision


def geometry_json(query: ItemsQuery, default_precision: int, alias: str = "t",
                  geometry_type: str = "Geometry") -> str:
    geom = f"{alias}.geom"
    tolerance = simplify_tolerance(query)
    if tolerance is not None and geometry_type not in ("Point", "MultiPoint"):
        # Keeps rings valid and never drops a polygon, unlike ST_Simplify.
        geom = f"ST_SimplifyPreserveTopology({geom}, {float(tolerance)!r})"
        if geometry_type.startswith("Multi"):
            geom = f"ST_Multi({geom})"  # GEOS hands back a lone part as a single polygon
    if query.crs.srid != 4326:
        geom = f"ST_Transform({geom}, {query.crs.srid})"
    if query.crs.lat_first:
        geom = f"ST_FlipCoordinates({geom})"
    precision = output_precision(query, default_precision)
    return f"ST_AsGeoJSON({geom}, {int(precision)})::json"


def selected_properties(layer: Layer, query: ItemsQuery) -> list[Property]:
    if query.properties is None:
        return layer.output_properties
    wanted = set(query.properties)
    return [p for p in layer.public_properties if p.name in wanted]


def feature_sql(layer: Layer, query: ItemsQuery, params: Params, precision: int) -> str:
    """SELECT of one ``feature`` json column per row, filtered, sorted and paged."""
    props = properties_object(layer, selected_properties(layer, query))
    return (
        "SELECT json_build_object('type', 'Feature', 'id', t.id, "
        f"'geometry', {geometry_json(query, precision)}, 'properties', {props}) AS feature "
        f"FROM {table_of(layer)} t {where_clause(conditions(layer, query, params))} "
        f"{order_by(layer, query)} LIMIT {params.add(query.limit)} OFFSET {params.add(query.offset)}"
    )


def page_sql(layer: Layer, query: ItemsQuery, params: Params, precision: int) -> tuple[str, list[str]]:
    """A page's SELECT of ``feature`` and its sort ``key``, one row beyond the page (is there more?),
    after the cursor if there is one; and the query's conditions without the cursor (to count)."""
    keys = sort_keys(layer, query.sortby)
    found = conditions(layer, query, params)
    paged = list(found)
    if query.after is not None:
        paged.append(after_sql(keys, query.after, params))
    props = properties_object(layer, selected_properties(layer, query))
    geometry = geometry_json(query, precision, geometry_type=layer.geometry_type)
    sql = (
        "SELECT json_build_object('type', 'Feature', 'id', t.id, "
        f"'geometry', {geometry}, 'properties', {props}) AS feature, {key_json_sql(keys)} AS key "
        f"FROM {table_of(layer)} t {where_clause(paged)} {order_by_sql(keys)} "
        f"LIMIT {params.add(query.limit + 1)}"
        + (f" OFFSET {params.add(query.offset)}" if query.offset else "")
    )
    return sql, found


async def fetch_items_page(conn: AsyncConnection, layer: Layer, query: ItemsQuery, *,
                           precision: int, rule: CountRule) -> Page:
    """One page of features (JSON built by PostgreSQL), its next cursor and ``numberMatched``
    by the counting rule (see ``geo_service.queries.paging``), in one statement."""
    params = Params()
    sql, found = page_sql(layer, query, params, precision)
    return await fetch_page(conn, layer, feature_sql=sql, conditions=found, params=params,
                            limit=query.limit, offset=query.offset, first=query.after is None,
                            rule=rule)


@dataclass
class StreamedPage:
    """Filled in while a large page streams: what the links and counts at its end need."""

    returned: int = 0
    next_cursor: str | None = None
    matched: int | None = None
    estimated: bool = False


async def stream_items_page(conn: AsyncConnection, layer: Layer, query: ItemsQuery, *,
                            precision: int, rule: CountRule, state: StreamedPage) -> AsyncIterator[str]:
    """A large page's features one JSON text at a time (server-side cursor); ``state`` holds the
    next cursor and the count once the iterator is exhausted."""
    params = Params()
    sql, found = page_sql(layer, query, params, precision)
    more = False
    last_key = None
    async for feature, key in stream_rows(conn, sql, params):
        if state.returned == query.limit:
            more = True  # the one row beyond the page (the SQL asks for no more)
            continue
        state.returned += 1
        last_key = key
        yield feature
    if more and last_key:
        state.next_cursor = encode_cursor(last_key)
    state.matched, state.estimated = await count_after_stream(
        conn, layer, conditions=found, params=params, rule=rule, offset=query.offset,
        returned=state.returned, more=more, first=query.after is None)


async def fetch_features(conn: AsyncConnection, layer: Layer, query: ItemsQuery, *,
                         precision: int) -> str:
    """The page's features as one JSON array text, built by PostgreSQL."""
    params = Params()
    sql = (
        "SELECT coalesce(json_agg(f.feature), '[]'::json)::text FROM ("
        f"{feature_sql(layer, query, params, precision)}) f"
    )
    return str((await conn.execute(text(sql), params.values)).scalar_one())


async def stream_features(conn: AsyncConnection, layer: Layer, query: ItemsQuery, *,
                          precision: int, batch: int = 1000) -> AsyncIterator[str]:
    """The page's features one JSON text at a time, from a server-side cursor."""
    params = Params()
    sql = f"SELECT f.feature::text FROM ({feature_sql(layer, query, params, precision)}) f"
    result = await conn.stream(text(sql).execution_options(yield_per=batch), params.values)
    async for row in result:
        yield row[0]


async def count_features(conn: AsyncConnection, layer: Layer, query: ItemsQuery) -> int:
    params = Params()
    sql = f"SELECT count(*) FROM {table_of(layer)} t {where_clause(conditions(layer, query, params))}"
    return int((await conn.execute(text(sql), params.values)).scalar_one())


async def fetch_feature(conn: AsyncConnection, layer: Layer, feature_id: int, query: ItemsQuery, *,
                        precision: int) -> tuple[str, dt.datetime] | None:
    """One feature as JSON text with its last change (for the item's ETag), or None."""
    params = Params()
    scope = [f"t.id = {params.add(feature_id)}"]
    own = layer_scope(layer, params)
    if own:
        scope.append(own)
    props = properties_object(layer, selected_properties(layer, query))
    sql = (
        "SELECT json_build_object('type', 'Feature', 'id', t.id, "
        f"'geometry', {geometry_json(query, precision)}, 'properties', {props})::text, t.updated_at "
        f"FROM {table_of(layer)} t {where_clause(scope)}"
    )
    row = (await conn.execute(text(sql), params.values)).one_or_none()
    return None if row is None else (row[0], row[1])
