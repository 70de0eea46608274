"""Facts about a layer as a whole: when it last changed, its spatial and temporal extent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.layers import Layer
from geo_service.queries.sql import Params, layer_scope, table_of, value_expr, where_clause


def change_key(layer: Layer) -> str:
    """Key in ``layer_changes``: the table for core layers, the layer id for custom ones."""
    return layer.id if layer.generic else layer.source_table


async def last_changed(conn: AsyncConnection, layer: Layer) -> dt.datetime:
    """When the layer's data last changed (statement triggers keep this in the database)."""
    value = (
        await conn.execute(
            text("SELECT changed_at FROM layer_changes WHERE layer = :k"), {"k": change_key(layer)}
        )
    ).scalar_one_or_none()
    return value or dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Extent:
    bbox: tuple[float, float, float, float] | None
    interval: tuple[str | None, str | None] | None


async def extent(conn: AsyncConnection, layer: Layer) -> Extent:
    """Spatial extent (lon/lat) and, for layers with dates, the temporal extent."""
    params = Params()
    scope = layer_scope(layer, params)
    columns = ["ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"]
    inner = ["ST_Extent(t.geom)::geometry AS e"]
    if layer.temporal:
        start, end = (layer.property(n) for n in layer.temporal)
        assert start is not None and end is not None
        inner += [f"min({value_expr(layer, start)}) AS lo",
                  f"max(coalesce({value_expr(layer, end)}, {value_expr(layer, start)})) AS hi"]
        columns += ["lo", "hi"]
    sql = (
        f"SELECT {', '.join(columns)} FROM (SELECT {', '.join(inner)} "
        f"FROM {table_of(layer)} t {where_clause([scope] if scope else [])}) x"
    )
    row = (await conn.execute(text(sql), params.values)).one()
    bbox = None if row[0] is None else (row[0], row[1], row[2], row[3])
    interval = None
    if layer.temporal:
        interval = tuple(v.isoformat() if v is not None else None for v in row[4:6])  # type: ignore[assignment]
    return Extent(bbox, interval)
