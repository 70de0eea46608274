"""Indicators per quartier for the planner's choropleth, computed in PostGIS."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.queries.sql import Params

#: Indicator id -> SQL expression over the counts of one quartier (aliases in ``quartier_indicators``).
INDICATORS: dict[str, str] = {
    "meeting_places": "c.meeting_places",
    "offers": "c.offers",
    # Only where the population is known; NULL (no colour, "no data") otherwise.
    "offers_per_1000": "CASE WHEN q.population > 0 THEN round(c.offers * 1000.0 / q.population, 2) END",
}


def tolerance(zoom: int) -> float:
    """Half a screen pixel in degrees at ``zoom`` (256-pixel tiles): finer detail is invisible."""
    return 360.0 / (256 * 2 ** max(0, min(zoom, 22))) / 2


async def quartier_indicators(conn: AsyncConnection, *, indicator: str,
                              bbox: tuple[float, float, float, float] | None, zoom: int,
                              precision: int) -> bytes:
    """Quartiers in ``bbox`` as a GeoJSON FeatureCollection, outlines simplified for ``zoom``,
    each with ``value`` (the indicator), the counts and the population.

    Meeting places count where their point lies in the quartier; offers where their geometry
    (the place they are held at, or the area they cover) intersects it.

    Examples
    --------
    >>> await quartier_indicators(conn, indicator="offers_per_1000", bbox=None, zoom=8,
    ...                           precision=6)  # doctest: +SKIP
    b'{"type": "FeatureCollection", "indicator": "offers_per_1000", "features": [...]}'
    """
    value = INDICATORS[indicator]  # the caller checked the name against INDICATORS
    params = Params()
    where = ""
    if bbox is not None:
        nums = ", ".join(params.add(float(v)) for v in bbox)
        where = f"WHERE q.geom && ST_MakeEnvelope({nums}, 4326)"
    tol = params.add(tolerance(zoom))
    sql = f"""
        SELECT json_build_object(
            'type', 'FeatureCollection', 'indicator', {params.add(indicator, 'text')},
            'features', coalesce(json_agg(json_build_object(
                'type', 'Feature', 'id', 'quartiers.' || f.id,
                'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(f.geom, {tol}),
                                         {int(precision)})::json,
                'properties', json_build_object(
                    'name', f.name, 'municipality', f.municipality, 'population', f.population,
                    'meeting_places', f.meeting_places, 'offers', f.offers, 'value', f.value)
            ) ORDER BY f.id), '[]'::json))::text
        FROM (
            SELECT q.id, q.name, q.municipality, q.population, q.geom,
                   c.meeting_places, c.offers, {value} AS value
            FROM quartiers q
            CROSS JOIN LATERAL (
                SELECT (SELECT count(*) FROM meeting_places m
                        WHERE ST_Intersects(m.geom, q.geom)) AS meeting_places,
                       (SELECT count(*) FROM offers o
                        WHERE ST_Intersects(o.geom, q.geom)) AS offers
            ) c
            {where}
        ) f
    """
    row = await conn.execute(text(sql), params.values)
    return str(row.scalar_one()).encode()
