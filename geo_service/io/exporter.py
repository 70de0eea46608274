"""Exporting a layer's public data to GeoJSON, GeoPackage or CSV, in EPSG:4326 or another CRS.

Only ``Layer.public_properties`` leave the database: personal properties (a contact person's
name, say) are never selected, so no later step can leak them by accident.

Rows are read with a server-side cursor and written in chunks of :data:`CHUNK` features, so
an export holds one chunk in memory whatever the layer's size; a bbox and a feature cap are
applied in SQL (:mod:`geo_service.queries.export`). Every CSV cell that a spreadsheet would
run as a formula is neutralised (:func:`csv_safe`).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from sqlalchemy import NullPool, text

from geo_service.db.engine import sync_engine
from geo_service.errors import InvalidData
from geo_service.layers import Layer, Property, Registry
from geo_service.queries import export as export_sql
from geo_service.queries.export import BBox

__all__ = ["Export", "ExportError", "csv_safe", "export_path", "write_layer"]

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".csv": "CSV"}
#: Lists become "a; b" where a format has no list type (the importer splits them again).
LIST_SEPARATOR = "; "
#: Features per chunk: what an export holds in memory at a time.
CHUNK = 5000
WGS84 = CRS.from_epsg(4326)
#: What a spreadsheet (Excel, LibreOffice, Google Sheets) takes as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(InvalidData):
    """The export cannot be done as asked (unknown layer, file type or CRS)."""


@dataclass(frozen=True)
class Export:
    """What an export wrote: how many features, and whether the cap cut off more."""

    features: int
    truncated: bool = False


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
    if DRIVERS.get(path.suffix.lower()) is None:
        raise ExportError(f"Die Endung »{path.suffix or path.name}« wird nicht unterstützt; "
                          "exportieren Sie nach .geojson, .gpkg oder .csv.")
    return write_layer(url, layer, path, crs=_parse_crs(crs)).features


def _parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise ExportError(f"Das Koordinatensystem »{text}« ist unbekannt; geben Sie es als "
                          "EPSG-Code an, z. B. EPSG:25832 oder EPSG:4326.") from None


def write_layer(url: str, layer: Layer, path: Path, *, crs: CRS = WGS84,
                bbox: BBox | None = None, max_features: int | None = None,
                statement_timeout_ms: int | None = None) -> Export:
    """Write the layer's features intersecting ``bbox`` (lon/lat) to ``path``, at most
    ``max_features`` of them (lowest ids first), in chunks; the format follows the suffix.

    Runs in the calling thread (the service calls it in a worker thread, never on the event
    loop) with a connection of its own that it closes.
    """
    driver = DRIVERS[path.suffix.lower()]
    if path.exists():
        path.unlink()
    limit = max_features + 1 if max_features is not None else None  # one more: was it cut?
    engine = sync_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            # Times as people in Lower Saxony read them (+01:00/+02:00), not in UTC.
            conn.exec_driver_sql("SET TIME ZONE 'Europe/Berlin'")
            # One core per export at most: parallel workers would take the cores that other
            # clients' short queries need (a 2-core server runs out with two exports).
            conn.exec_driver_sql("SET max_parallel_workers_per_gather = 0")
            # PostGIS functions' high costs make the planner JIT-compile this plain scan, which
            # took longer than the scan itself.
            conn.exec_driver_sql("SET jit = off")
            if statement_timeout_ms:
                conn.exec_driver_sql(f"SET statement_timeout = {int(statement_timeout_ms)}")
            points = False
            if driver == "CSV":
                sql, params = export_sql.only_points(layer, bbox=bbox, limit=max_features)
                points = bool(conn.execute(text(sql), params).scalar())
            writer = _writer(driver, path, layer, crs, points=points)
            sql, params = export_sql.export_rows(layer, bbox=bbox, limit=limit)
            result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(
                text(sql), params)
            written = 0
            truncated = False
            for rows in result.partitions(CHUNK):
                if max_features is not None and written + len(rows) > max_features:
                    rows = rows[: max_features - written]
                    truncated = True
                if rows:
                    writer.write(_chunk(layer, rows, crs))
                    written += len(rows)
            writer.close()
    finally:
        engine.dispose()
    return Export(written, truncated)


# -- one chunk of rows ------------------------------------------------------------------------
@dataclass
class _Chunk:
    """Columns by property name (``id`` first) and the geometries in the output CRS."""

    columns: dict[str, list[Any]]
    geometries: np.ndarray


def _chunk(layer: Layer, rows: Sequence[Any], crs: CRS) -> _Chunk:
    props = layer.public_properties
    columns: dict[str, list[Any]] = {"id": [row[0] for row in rows]}
    if layer.generic:
        values = [row[1] or {} for row in rows]
        for prop in props:
            columns[prop.name] = [_plain(v.get(prop.name)) for v in values]
    else:
        for i, prop in enumerate(props, start=1):
            columns[prop.name] = [_plain(row[i]) for row in rows]
    geometries = shapely.from_wkb([bytes(row[-1]) if row[-1] is not None else None
                                   for row in rows])
    if not crs.equals(WGS84, ignore_axis_order=True):
        transformer = Transformer.from_crs(WGS84, crs, always_xy=True)
        geometries = shapely.transform(
            geometries, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    return _Chunk(columns, np.asarray(geometries))


def _plain(value: Any) -> Any:
    """Dates as ISO text (every format and spreadsheet reads it back the same way)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _joined(value: Any) -> Any:
    return LIST_SEPARATOR.join(map(str, value)) if isinstance(value, list) else value


# -- writers ----------------------------------------------------------------------------------
class _Writer(Protocol):
    def write(self, chunk: _Chunk) -> None: ...

    def close(self) -> None: ...


def _writer(driver: str, path: Path, layer: Layer, crs: CRS, *, points: bool) -> _Writer:
    if driver == "GeoJSON":
        return _GeoJSONWriter(path, layer, crs)
    if driver == "CSV":
        return _CSVWriter(path, layer, crs, points=points)
    return _GISWriter(path, layer, crs, driver)


class _GeoJSONWriter:
    """A FeatureCollection written feature by feature (lists stay lists)."""

    def __init__(self, path: Path, layer: Layer, crs: CRS) -> None:
        self.file = path.open("wb")
        head: dict[str, Any] = {"type": "FeatureCollection", "name": layer.id}
        authority = crs.to_authority()
        if authority and not crs.equals(WGS84, ignore_axis_order=True):
            head["crs"] = {"type": "name",
                           "properties": {"name": f"urn:ogc:def:crs:{authority[0]}::{authority[1]}"}}
        self.file.write(orjson.dumps(head)[:-1] + b',"features":[\n')
        self.first = True

    def write(self, chunk: _Chunk) -> None:
        names = list(chunk.columns)
        geometries = shapely.to_geojson(chunk.geometries)
        for i, geometry in enumerate(geometries):
            feature = {"type": "Feature",
                       "properties": {name: chunk.columns[name][i] for name in names},
                       "geometry": orjson.Fragment(geometry) if geometry is not None else None}
            if not self.first:
                self.file.write(b",\n")
            self.file.write(orjson.dumps(feature, default=str))
            self.first = False

    def close(self) -> None:
        self.file.write(b"\n]}\n")
        self.file.close()


#: pandas types that give every chunk of a GeoPackage the same field types.
_DTYPES = {"integer": "Int64", "number": "Float64", "boolean": "boolean"}


class _GISWriter:
    """GeoPackage (or another OGR format) through pyogrio, appended chunk by chunk."""

    def __init__(self, path: Path, layer: Layer, crs: CRS, driver: str) -> None:
        self.path, self.layer, self.crs, self.driver = path, layer, crs, driver
        self.started = False

    def write(self, chunk: _Chunk) -> None:
        # Imported here: the GeoJSON and CSV writers (and their process) need none of them.
        import geopandas as gpd
        import pandas as pd
        import pyogrio

        table = pd.DataFrame({"id": pd.array(chunk.columns["id"], dtype="Int64")})
        for prop in self.layer.public_properties:
            table[prop.name] = _typed([_joined(v) for v in chunk.columns[prop.name]], prop)
        frame = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(chunk.geometries, crs=self.crs),
                                 crs=self.crs)
        geometry_type = "Unknown" if self.layer.geometry_type == "Geometry" else self.layer.geometry_type
        pyogrio.write_dataframe(frame, self.path, driver=self.driver, layer=self.layer.id,
                                geometry_type=geometry_type, append=self.started)
        self.started = True

    def close(self) -> None:
        if not self.started:  # nothing in view: still a valid, empty file with the layer
            self.write(_Chunk({name: [] for name in ["id", *(p.name for p in self.layer.public_properties)]},
                              np.array([], dtype=object)))


def _typed(values: list[Any], prop: Property) -> Any:
    import pandas as pd

    dtype = _DTYPES.get(prop.type)
    if dtype is not None:
        try:
            return pd.array(values, dtype=dtype)
        except (TypeError, ValueError):  # a custom layer's odd value: keep it as text
            pass
    return pd.Series(values, dtype=object)


class _CSVWriter:
    """UTF-8, comma-separated; points as two coordinate columns, anything else as WKT."""

    def __init__(self, path: Path, layer: Layer, crs: CRS, *, points: bool) -> None:
        self.file = path.open("w", encoding="utf-8", newline="")
        self.out = csv.writer(self.file)
        self.points = points
        names = ["id", *(p.name for p in layer.public_properties)]
        coordinates = (["lon", "lat"] if crs.is_geographic else ["x", "y"]) if points else ["wkt"]
        self.out.writerow([csv_safe(n) for n in [*names, *coordinates]])

    def write(self, chunk: _Chunk) -> None:
        columns = list(chunk.columns.values())
        geometries = chunk.geometries
        if self.points:
            xs, ys = shapely.get_x(geometries), shapely.get_y(geometries)
            tail: Iterator[list[Any]] = ([x, y] for x, y in zip(xs.tolist(), ys.tolist()))
        else:
            tail = ([w] for w in shapely.to_wkt(geometries, rounding_precision=-1).tolist())
        for values, end in zip(zip(*columns), tail):
            self.out.writerow([csv_safe(_joined(v)) for v in (*values, *end)])

    def close(self) -> None:
        self.file.close()


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs: text starting with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return gets a leading apostrophe (OWASP's advice against CSV
    injection, e.g. ``=HYPERLINK(…)`` or ``=cmd|…``). Numbers stay numbers.

    Examples
    --------
    >>> csv_safe("=HYPERLINK(\\"http://evil.example\\")")
    '\\'=HYPERLINK("http://evil.example")'
    >>> csv_safe(-3.5), csv_safe("Café"), csv_safe(None)
    (-3.5, 'Café', None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
