"""Exporting a layer's public data to GeoJSON, GeoPackage or CSV, in EPSG:4326 or another CRS.

Only ``Layer.public_properties`` leave the database: personal properties (a contact person's
name, say) are never selected, so no later step can leak them by accident.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from psycopg import sql
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo_service.db.engine import sync_engine
from geo_service.errors import InvalidData
from geo_service.layers import Layer, Registry

__all__ = ["ExportError", "export_path", "read_layer"]

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".csv": "CSV"}
#: Lists become "a; b" where a format has no list type (the importer splits them again).
LIST_SEPARATOR = "; "


class ExportError(InvalidData):
    """The export cannot be done as asked (unknown layer, file type or CRS)."""


def export_path(url: str, registry: Registry, layer_id: str, path: Path | str, *,
                crs: str = "EPSG:4326") -> int:
    """Write a layer's public properties and geometries to a file.

    Parameters
    ----------
    url
        Database URL.
    registry, layer_id
        The layer to export.
    path
        ``.geojson``/``.json``, ``.gpkg`` or ``.csv`` (points as lon/lat, or x/y in a projected
        CRS; other geometries as WKT). An existing file is replaced.
    crs
        Output CRS, e.g. ``"EPSG:25832"``.

    Returns
    -------
    int
        The number of features written.

    Raises
    ------
    ExportError
        Unknown layer, file extension or CRS.

    Examples
    --------
    >>> export_path(url, registry, "meeting_places", "treffpunkte.gpkg",
    ...             crs="EPSG:25832")  # doctest: +SKIP
    12
    """
    layer = registry.get(layer_id)
    if layer is None:
        raise ExportError(f"Den Layer »{layer_id}« gibt es nicht; bekannt sind: "
                          f"{', '.join(registry.ids())}.")
    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise ExportError(f"Die Endung »{path.suffix or path.name}« wird nicht unterstützt; "
                          "exportieren Sie nach .geojson, .gpkg oder .csv.")
    target = _parse_crs(crs)
    frame = read_layer(url, layer).to_crs(target)
    if path.exists():
        path.unlink()
    if driver == "CSV":
        _write_csv(frame, path, target)
    else:
        _write_gis(frame, path, driver, layer)
    return len(frame)


def _parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise ExportError(f"Das Koordinatensystem »{text}« ist unbekannt; geben Sie es als "
                          "EPSG-Code an, z. B. EPSG:25832 oder EPSG:4326.") from None


def read_layer(url: str, layer: Layer) -> gpd.GeoDataFrame:
    """A layer's public properties (plus ``id``) and geometries, in EPSG:4326, ordered by id."""
    props = layer.public_properties
    engine = sync_engine(url)
    try:
        with engine.raw_connection().driver_connection as conn:  # type: ignore[union-attr]
            # Times as people in Lower Saxony read them (+01:00/+02:00), not in UTC.
            conn.execute("SET TIME ZONE 'Europe/Berlin'")
            if layer.generic:
                rows = conn.execute(
                    "SELECT id, properties, ST_AsBinary(geom) FROM features WHERE layer = %s "
                    "ORDER BY id", [layer.id]).fetchall()
                records = [[i, *(p.get(prop.name) for prop in props), g] for i, p, g in rows]
            else:
                query = sql.SQL("SELECT id, {}, ST_AsBinary(geom) FROM {} ORDER BY id").format(
                    sql.SQL(", ").join(sql.Identifier(p.db_column) for p in props),
                    sql.Identifier(layer.source_table))
                records = [list(row) for row in conn.execute(query).fetchall()]
    finally:
        engine.dispose()
    names = ["id", *(p.name for p in props)]
    table = pd.DataFrame([r[:-1] for r in records], columns=names, dtype=object)
    geoms = shapely.from_wkb([bytes(r[-1]) for r in records]) if records else []
    for prop in props:
        if prop.type in ("date", "datetime"):
            table[prop.name] = table[prop.name].map(_iso)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def _iso(value: Any) -> Any:
    """Dates as ISO text: every format and spreadsheet reads it back the same way."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _join_lists(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if column != frame.geometry.name and frame[column].map(lambda v: isinstance(v, list)).any():
            frame[column] = frame[column].map(
                lambda v: LIST_SEPARATOR.join(map(str, v)) if isinstance(v, list) else v)
    return frame


def _write_gis(frame: gpd.GeoDataFrame, path: Path, driver: str, layer: Layer) -> None:
    if driver != "GeoJSON":
        frame = _join_lists(frame)  # GeoPackage has no list type
    geometry_type = "Unknown" if layer.geometry_type == "Geometry" else layer.geometry_type
    pyogrio.write_dataframe(frame, path, driver=driver, layer=layer.id,
                            geometry_type=geometry_type)


def _write_csv(frame: gpd.GeoDataFrame, path: Path, crs: CRS) -> None:
    """Points as two coordinate columns, anything else as WKT; UTF-8, comma-separated."""
    table = pd.DataFrame(_join_lists(frame).drop(columns=frame.geometry.name))
    geoms = frame.geometry.to_numpy()
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all():
        xname, yname = ("lon", "lat") if crs.is_geographic else ("x", "y")
        table[xname] = shapely.get_x(geoms)
        table[yname] = shapely.get_y(geoms)
    else:
        table["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
    table.to_csv(path, index=False, encoding="utf-8")
