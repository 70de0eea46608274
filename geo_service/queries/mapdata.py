"""What the map pages need besides the OGC API: place search, opening hours, point density."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.layers import Layer
from geo_service.queries.sql import Params, layer_scope, table_of, where_clause


def _like(term: str) -> str:
    """``term`` as an ILIKE pattern that matches it literally anywhere."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_places(conn: AsyncConnection, term: str, *, limit: int = 10) -> list[dict[str, object]]:
    """Meeting places, quartiers and streets (from the places' addresses) matching ``term``.

    Each hit is ``{"kind": "place"|"quartier"|"street", "label": str, "lon": float, "lat": float}``,
    names first matching at their start, then alphabetically.
    """
    sql = """
        WITH hits AS (
            SELECT 'place' AS kind, name || coalesce(', ' || town, '') AS label, geom,
                   name ILIKE :start AS early
              FROM meeting_places WHERE name ILIKE :pattern OR town ILIKE :pattern
            UNION ALL
            SELECT 'quartier', name || ', ' || municipality, ST_PointOnSurface(geom),
                   name ILIKE :start
              FROM quartiers WHERE name ILIKE :pattern OR municipality ILIKE :pattern
            UNION ALL
            SELECT DISTINCT ON (street, town) 'street', street || coalesce(', ' || town, ''), geom,
                   street ILIKE :start
              FROM (SELECT trim(regexp_replace(address, '\\s+[0-9][0-9a-zA-Z/ -]*$', '')) AS street,
                           town, geom FROM meeting_places WHERE address ILIKE :pattern) s
        )
        SELECT kind, label, ST_X(geom), ST_Y(geom) FROM hits
        ORDER BY early DESC, label LIMIT :limit
    """
    rows = await conn.execute(text(sql), {"pattern": _like(term), "start": _like(term)[1:],
                                          "limit": limit})
    return [{"kind": k, "label": label, "lon": round(x, 6), "lat": round(y, 6)}
            for k, label, x, y in rows]


async def opening_hours_of(conn: AsyncConnection, ids: list[int]) -> dict[int, str | None]:
    """The OSM ``opening_hours`` expression of each meeting place asked for."""
    rows = await conn.execute(
        text("SELECT id, opening_hours FROM meeting_places WHERE id = ANY(:ids)"), {"ids": ids})
    return {int(i): hours for i, hours in rows}


def cell_size(zoom: int) -> float:
    """Grid cell in degrees of about 60 screen pixels at ``zoom``."""
    return 360.0 / 2 ** max(0, min(zoom, 22)) / 256 * 60


async def point_grid(conn: AsyncConnection, layer: Layer, *, bbox: tuple[float, float, float, float],
                     zoom: int) -> bytes:
    """Points of ``layer`` in ``bbox`` counted per grid cell, as GeoJSON points with ``count``
    (placed at the mean position of their points), plus ``numberMatched`` over all cells.

    Lets a planner open a layer of 100,000 points at state level: a few hundred cells travel
    instead of every point.
    """
    params = Params()
    nums = ", ".join(params.add(float(v)) for v in bbox)
    conditions = [f"t.geom && ST_MakeEnvelope({nums}, 4326)"]
    scope = layer_scope(layer, params)
    if scope:
        conditions.append(scope)
    size = params.add(cell_size(zoom))
    sql = f"""
        SELECT json_build_object(
            'type', 'FeatureCollection', 'numberMatched', coalesce(sum(g.n), 0),
            'features', coalesce(json_agg(json_build_object(
                'type', 'Feature',
                'geometry', ST_AsGeoJSON(g.c, 5)::json,
                'properties', json_build_object('count', g.n))), '[]'::json))::text
        FROM (SELECT count(*) AS n, ST_Centroid(ST_Collect(t.geom)) AS c
                FROM {table_of(layer)} t {where_clause(conditions)}
               GROUP BY ST_SnapToGrid(ST_PointOnSurface(t.geom), {size})) g
    """
    row = await conn.execute(text(sql), params.values)
    return str(row.scalar_one()).encode()
