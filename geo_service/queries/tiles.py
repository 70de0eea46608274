"""Vector tiles of a layer: Mapbox Vector Tiles built in PostGIS (``ST_AsMVT``) on WebMercatorQuad."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import morecantile
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.errors import TileNotFound
from geo_service.layers import Layer, Property
from geo_service.queries.sql import Params, layer_scope, quote_ident, table_of, value_expr, where_clause

TMS_ID = "WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"
#: Tile coordinate space and the margin around it (in tile units), as most renderers expect.
EXTENT = 4096
BUFFER = 64
MAX_LAT = 85.0511287798066


@lru_cache(maxsize=1)
def web_mercator() -> morecantile.TileMatrixSet:
    """The OGC WebMercatorQuad tile matrix set, from morecantile's registry."""
    return morecantile.tms.get(TMS_ID)


@dataclass(frozen=True)
class TileBounds:
    """A tile's envelope in EPSG:3857 and, widened by the buffer, in lon/lat (for the index)."""

    mercator: tuple[float, float, float, float]
    search: tuple[float, float, float, float]


def tile_bounds(layer: Layer, z: int, x: int, y: int) -> TileBounds:
    """The envelope of tile ``z/x/y``; ``TileNotFound`` outside the matrix or the layer's zooms."""
    tms = web_mercator()
    if not tms.minzoom <= z <= tms.maxzoom:
        raise TileNotFound(f"WebMercatorQuad has zoom levels {tms.minzoom} to {tms.maxzoom}, not {z}.")
    if not layer.tiles.min_zoom <= z <= layer.tiles.max_zoom:
        raise TileNotFound(
            f"Tiles of {layer.id} exist from zoom {layer.tiles.min_zoom} to {layer.tiles.max_zoom}; "
            f"zoom {z} is outside (clients should overzoom the last level)."
        )
    size = 2**z
    if not (0 <= x < size and 0 <= y < size):
        raise TileNotFound(f"At zoom {z}, x and y run from 0 to {size - 1}; {x}/{y} is outside.")
    left, bottom, right, top = tms.xy_bounds(morecantile.Tile(x, y, z))
    margin = (right - left) * BUFFER / EXTENT
    # The margin of an edge tile reaches past the matrix: clamp before converting to lon/lat.
    x0, y0, x1, y1 = tms.xy_bbox
    west, south = tms.lnglat(max(left - margin, x0), max(bottom - margin, y0))
    east, north = tms.lnglat(min(right + margin, x1), min(top + margin, y1))
    # Web Mercator ends at ±85.05°; a margin beyond it must not reach the poles (ST_Transform fails).
    south, north = max(south, -MAX_LAT), min(north, MAX_LAT)
    return TileBounds((left, bottom, right, top), (west, south, east, north))


def tile_value(layer: Layer, prop: Property) -> str:
    """A property as an MVT value: arrays as comma-separated text, dates as ISO text."""
    expr = value_expr(layer, prop)
    if prop.is_array:
        return f"array_to_string({expr}, ',')"
    if prop.type in ("date", "datetime"):
        return f"to_json({expr}) #>> '{{}}'"
    return expr


def tile_sql(layer: Layer, bounds: TileBounds, limit: int, params: Params) -> str:
    """One MVT layer named after the layer: its first ``limit`` features (by id) in the tile.

    The cap keeps low zooms bounded; ordering by id makes the choice stable, so a tile is the same
    bytes until the layer changes (its ETag stays valid).
    """
    x0, y0, x1, y1 = (params.add(float(v)) for v in bounds.mercator)
    w, s, e, n = (params.add(float(v)) for v in bounds.search)
    envelope = f"ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 3857)"
    conditions = [f"t.geom && ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326)"]
    scope = layer_scope(layer, params)
    if scope:
        conditions.append(scope)
    columns = "".join(f", {tile_value(layer, p)} AS {quote_ident(p.name)}" for p in layer.tile_properties)
    return (
        f"SELECT ST_AsMVT(m, {params.add(layer.id)}, {EXTENT}, '_geom', '_fid') FROM ("
        f"SELECT t.id AS _fid, ST_AsMVTGeom(ST_Transform(t.geom, 3857), {envelope}, "
        f"{EXTENT}, {BUFFER}, true) AS _geom{columns} "
        f"FROM {table_of(layer)} t {where_clause(conditions)} "
        f"ORDER BY t.id LIMIT {params.add(limit)}) m WHERE m._geom IS NOT NULL"
    )


async def fetch_tile(conn: AsyncConnection, layer: Layer, bounds: TileBounds, *,
                     max_features: int) -> bytes:
    """A tile of a layer as MVT bytes (empty when no feature lies in it).

    Examples
    --------
    >>> # bounds = tile_bounds(layer, 12, 2170, 1356)     # TileNotFound if there is no such tile
    >>> # body = await fetch_tile(conn, layer, bounds, max_features=5000)
    """
    params = Params()
    sql = tile_sql(layer, bounds, layer.tiles.max_features or max_features, params)
    value = (await conn.execute(text(sql), params.values)).scalar_one()
    return bytes(value or b"")
