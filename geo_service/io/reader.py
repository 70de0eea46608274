"""Reading GIS files for import: GeoJSON, GeoPackage, zipped Shapefile and CSV, into EPSG:4326.

Every file is opened only as the format its suffix names, after its content has been checked
(:mod:`geo_service.io.formats`), by GDAL narrowed to that format's one driver
(:mod:`geo_service.io.gdal`); zips are unpacked by :mod:`geo_service.io.archive`, CSV is read by
pandas. The command line and the HTTP import both read through :func:`read_path`.

Everything that makes a whole file unusable raises :class:`ImportError_` with one German
sentence a person can act on (:class:`ImportTooLarge` for the limits); problems of single rows
are left to validation.
"""

from __future__ import annotations

import codecs
import io
import re
import tempfile
import warnings as pywarnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo_service.io.archive import unpack_shapefiles
from geo_service.io.formats import (
    CSV,
    FORMATS_TEXT,
    SHAPEFILE,
    ZIPPED_SHAPEFILE,
    Format,
    ImportError_,
    ImportTooLarge,
    broken,
    check_content,
    describe,
    format_of,
)
from geo_service.io.gdal import only_driver
from geo_service.validation import parse_decimal

__all__ = ["FORMATS_TEXT", "ImportError_", "ImportTooLarge", "SourceData", "read_path"]

# Column names (lower case) that hold coordinates, as GIS tools and spreadsheets name them.
LON_NAMES = ("lon", "lng", "long", "longitude", "laenge", "länge", "geo_laenge")
LAT_NAMES = ("lat", "latitude", "breite", "geo_breite")
X_NAMES = ("x", "rechtswert", "easting", "ostwert", "x_coord")
Y_NAMES = ("y", "hochwert", "northing", "nordwert", "y_coord")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "geometrie")

WGS84 = CRS.from_epsg(4326)
#: How a CRS may be given with --crs or ?crs=: an EPSG code in one of its usual spellings. A free
#: text would reach PROJ, which also reads definitions from files.
_EPSG_FORMS = re.compile(
    r"^\s*(?:EPSG:|urn:ogc:def:crs:EPSG:[0-9.]*:|https?://www\.opengis\.net/def/crs/EPSG/[0-9.]+/)?"
    r"([0-9]{4,6})\s*$", re.IGNORECASE)
_CRS84_FORMS = ("OGC:CRS84", "CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84",
                "http://www.opengis.net/def/crs/OGC/1.3/CRS84")


@dataclass
class SourceData:
    """A file read into EPSG:4326.

    ``frame.index`` holds the numbers a person finds the row by: the line number for CSV
    (header = line 1), the 1-based feature number otherwise; ``unit`` names which.
    """

    frame: gpd.GeoDataFrame
    unit: str
    warnings: list[str] = field(default_factory=list)
    row_errors: dict[int, str] = field(default_factory=dict)


def read_path(
    path: Path | str,
    *,
    crs: str | None = None,
    file_layer: str | None = None,
    max_upload_mb: float | None = None,
    max_unpacked_mb: float | None = None,
    max_features: int | None = None,
) -> SourceData:
    """Read a GIS file or CSV and reproject it to EPSG:4326.

    Parameters
    ----------
    path
        ``.geojson``/``.json``, ``.gpkg``, ``.zip`` (Shapefile), ``.shp`` or ``.csv``; the suffix
        decides the format, and a file whose content is another format is refused.
    crs
        CRS of a CSV's x/y columns, or of a file that declares none, as an EPSG code
        (``"EPSG:25832"``, ``"25832"`` or its OGC URN/URI).
    file_layer
        The layer inside a GeoPackage (or a zip with several Shapefiles).
    max_upload_mb
        Larger files are refused before they are read.
    max_unpacked_mb
        Largest total of a zip's Shapefile parts, counted while unpacking.
    max_features
        Files with more features (CSV: rows) are refused.

    Returns
    -------
    SourceData

    Raises
    ------
    ImportTooLarge
        The file, its unpacked content or its number of features is over a limit.
    ImportError_
        Missing, empty, broken or non-spatial file; content of another format; CSV without
        coordinate columns; unknown CRS; no CRS where one is needed.

    Examples
    --------
    >>> data = read_path("punkte.csv", crs="EPSG:25832")  # doctest: +SKIP
    >>> data.frame.crs.to_epsg()  # doctest: +SKIP
    4326
    """
    path = Path(path)
    requested = _parse_crs(crs) if crs else None
    fmt = format_of(path.name)
    _check_file(path, max_upload_mb)
    check_content(path, fmt)
    if fmt is CSV:
        return _read_csv(path, requested, max_features)
    if fmt is ZIPPED_SHAPEFILE:
        with tempfile.TemporaryDirectory(prefix="qk-shp-") as folder:
            shapefiles, skipped = unpack_shapefiles(path, Path(folder),
                                                    max_unpacked_mb=max_unpacked_mb)
            for shapefile in shapefiles:
                check_content(shapefile, SHAPEFILE)
            data = _read_gis(path, fmt, requested, file_layer, max_features, shapefiles)
        if skipped:
            data.warnings.append(f"In {path.name} nicht gelesen (kein Teil eines Shapefiles): "
                                 f"{', '.join(skipped[:8])}{' …' if len(skipped) > 8 else ''}.")
        return data
    return _read_gis(path, fmt, requested, file_layer, max_features, [path])


def _parse_crs(text: str) -> CRS:
    code = _EPSG_FORMS.match(text)
    try:
        if code:
            return CRS.from_epsg(int(code.group(1)))
        if text.strip() in _CRS84_FORMS:
            return CRS.from_user_input("OGC:CRS84")
    except CRSError:
        pass
    raise ImportError_(
        f"Das Koordinatensystem »{text[:60]}« ist unbekannt; geben Sie es als EPSG-Code an, "
        "z. B. EPSG:25832 oder EPSG:4326."
    ) from None


def _check_file(path: Path, max_upload_mb: float | None) -> None:
    if not path.exists():
        raise ImportError_(f"Die Datei {path} gibt es nicht; prüfen Sie Pfad und Namen.")
    if not path.is_file():
        raise ImportError_(f"{path} ist keine Datei, sondern ein Ordner; geben Sie die Datei an.")
    size = path.stat().st_size
    if max_upload_mb is not None and size > max_upload_mb * 1024 * 1024:
        raise ImportTooLarge(
            f"Die Datei {path.name} ist {size / 1024 / 1024:.1f} MB groß, erlaubt sind höchstens "
            f"{max_upload_mb} MB; teilen Sie sie auf oder bitten Sie um ein höheres Limit."
        )
    if size == 0:
        raise ImportError_(f"Die Datei {path.name} ist leer (0 Byte); exportieren Sie sie erneut.")


def _too_many(name: str, count: int | None, max_features: int) -> ImportTooLarge:
    held = f"{count:,}".replace(",", ".") if count else f"mehr als {max_features:,}".replace(",", ".")
    return ImportTooLarge(
        f"Die Datei {name} enthält {held} Objekte, erlaubt sind höchstens "
        f"{max_features:,} je Import".replace(",", ".")
        + " (Einstellung GEO_SERVICE_IMPORT_MAX_FEATURES); teilen Sie sie auf.")


# -- GeoJSON, GeoPackage, Shapefile -----------------------------------------------------------
def _read_gis(source: Path, fmt: Format, requested: CRS | None, file_layer: str | None,
              max_features: int | None, files: list[Path]) -> SourceData:
    """Read one layer with GDAL narrowed to the format's driver.

    ``files`` are what GDAL opens: the file itself, or a zip's unpacked ``.shp`` files (one
    layer each, named by the file); messages name ``source``, the file the person gave.
    """
    assert fmt.driver is not None
    with only_driver(fmt.driver):
        layers = _list_layers(source, fmt, files)
        layer = _choose_layer(source, layers, file_layer)
        path = next((f for f in files if f.stem == layer), files[0]) if len(files) > 1 else files[0]
        name = None if len(files) > 1 or fmt is ZIPPED_SHAPEFILE else layer
        try:
            with pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore", RuntimeWarning)
                info = pyogrio.read_info(path, layer=name)
                count = int(info.get("features", -1))
                if max_features is not None and count > max_features:
                    raise _too_many(source.name, count, max_features)
                # Dates stay text: validation parses them by the layer's types, not GDAL's guesses.
                frame = pyogrio.read_dataframe(
                    path, layer=name, datetime_as_string=True,
                    max_features=None if max_features is None else max_features + 1)
        except ImportError_:
            raise
        except Exception as exc:  # pyogrio's DataSourceError, DataLayerError, UnicodeError …
            raise _unreadable(source, fmt) from exc
    if max_features is not None and len(frame) > max_features:
        raise _too_many(source.name, None, max_features)
    if not isinstance(frame, gpd.GeoDataFrame) or info.get("geometry_type") is None:
        raise _non_spatial(source, layer)
    if len(frame) == 0:
        raise ImportError_(f"Die Datei {source.name} enthält keine Objekte; es gibt nichts zu "
                           "importieren.")
    warnings: list[str] = []
    declared = _declared_crs(frame)
    target = _resolve_crs(source, declared, requested, frame.geometry.values, warnings)
    frame = frame.set_crs(target, allow_override=True)
    frame = _to_wgs84(frame)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return SourceData(frame, "Objekt", warnings)


def _unreadable(source: Path, fmt: Format) -> ImportError_:
    """GDAL's driver for the format did not recognise the file; say what it is if we can tell."""
    from geo_service.io.formats import refused

    if fmt is not ZIPPED_SHAPEFILE and source.exists():
        with source.open("rb") as stream:
            what = describe(stream.read(4096))
        if what is not None:
            return refused(source, fmt, what)
    return broken(source, fmt.kind)


def _list_layers(source: Path, fmt: Format, files: list[Path]) -> list[tuple[str, object]]:
    try:
        if len(files) > 1 or fmt is ZIPPED_SHAPEFILE:
            return [(f.stem, pyogrio.list_layers(f)[0][1]) for f in files]
        return [(str(name), geometry) for name, geometry in pyogrio.list_layers(files[0])]
    except Exception as exc:
        raise _unreadable(source, fmt) from exc


def _choose_layer(path: Path, layers: list[tuple[str, object]], file_layer: str | None) -> str:
    names = [name for name, _ in layers]
    spatial = [name for name, geometry in layers if geometry is not None]
    if file_layer is not None:
        if file_layer not in names:
            raise ImportError_(
                f"Die Datei {path.name} hat keinen Layer »{file_layer}«; vorhanden: "
                f"{', '.join(names) or 'keine'}."
            )
        if file_layer not in spatial:
            raise _non_spatial(path, file_layer)
        return file_layer
    if not names:
        raise ImportError_(f"Die Datei {path.name} enthält keine Layer; es gibt nichts zu "
                           "importieren.")
    if not spatial:
        raise _non_spatial(path, names[0])
    if len(spatial) > 1:
        raise ImportError_(
            f"Die Datei {path.name} enthält mehrere Layer ({', '.join(spatial)}); wählen Sie "
            "einen mit --file-layer."
        )
    return spatial[0]


def _non_spatial(path: Path, layer: str) -> ImportError_:
    return ImportError_(
        f"Die Datei {path.name} (Layer »{layer}«) enthält keine Geometrien, nur eine Tabelle; "
        "importieren Sie eine Datei mit Punkten, Linien oder Flächen."
    )


def _declared_crs(frame: gpd.GeoDataFrame) -> CRS | None:
    try:
        return CRS.from_user_input(frame.crs) if frame.crs is not None else None
    except CRSError:
        return None


def _looks_like_degrees(geoms: np.ndarray) -> bool:
    present = geoms[~shapely.is_missing(geoms)]
    if len(present) == 0:
        return True
    x0, y0, x1, y1 = shapely.total_bounds(present)
    return bool(-180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90)


def _example(geoms: np.ndarray) -> str:
    present = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if len(present) == 0:
        return ""
    x, y = shapely.get_coordinates(present[:1])[0]
    return f" (z. B. {x:.0f}, {y:.0f})"


def _resolve_crs(path: Path, declared: CRS | None, requested: CRS | None, geoms: np.ndarray,
                 warnings: list[str]) -> CRS:
    """The CRS the coordinates are really in: the file's, else --crs, else lon/lat if plausible."""
    degrees = _looks_like_degrees(geoms)
    if declared is None:
        if requested is not None:
            return requested
        if degrees:
            warnings.append(f"Die Datei {path.name} gibt kein Koordinatensystem an; angenommen "
                            "wird EPSG:4326 (Länge/Breite).")
            return WGS84
        raise ImportError_(
            f"Die Datei {path.name} gibt kein Koordinatensystem an und ihre Koordinaten"
            f"{_example(geoms)} sind nicht Länge/Breite; geben Sie es mit --crs an, "
            "z. B. --crs EPSG:25832."
        )
    if declared.is_geographic and not degrees:
        # Typically a GeoJSON without "crs" member holding UTM coordinates.
        if requested is not None:
            warnings.append(f"Die Koordinaten von {path.name} sind nicht Länge/Breite; verwendet "
                            f"wird --crs {requested.to_string()}.")
            return requested
        raise ImportError_(
            f"Die Koordinaten in {path.name}{_example(geoms)} passen nicht zum angegebenen "
            f"Koordinatensystem {declared.name}; geben Sie das richtige mit --crs an, "
            "z. B. --crs EPSG:25832."
        )
    if requested is not None and not requested.equals(declared, ignore_axis_order=True):
        warnings.append(f"Die Datei {path.name} gibt ihr Koordinatensystem selbst an "
                        f"({declared.name}); --crs {requested.to_string()} wird ignoriert.")
    return declared


def _to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    crs = CRS.from_user_input(frame.crs)
    if crs.equals(WGS84, ignore_axis_order=True):
        return frame.set_crs(WGS84, allow_override=True)
    return frame.to_crs(WGS84)


# -- CSV ----------------------------------------------------------------------------------------
def _read_csv(path: Path, requested: CRS | None, max_features: int | None) -> SourceData:
    text, encoding = _decode(path.read_bytes(), path)
    table = _parse_table(text, path, max_features)
    warnings: list[str] = []
    if encoding == "cp1252":
        warnings.append(f"{path.name} ist nicht UTF-8; gelesen als Windows-1252.")
    columns = {str(c).strip().lower(): str(c) for c in table.columns}
    geoms, used, crs, row_errors = _csv_geometry(path, table, columns, requested)
    attributes = table.drop(columns=used)
    frame = gpd.GeoDataFrame(attributes, geometry=gpd.GeoSeries(geoms), crs=crs)
    frame = _to_wgs84(frame)
    # Line numbers as a spreadsheet shows them: the header is line 1.
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    return SourceData(frame, "Zeile", warnings, {i + 2: e for i, e in row_errors.items()})


def _decode(raw: bytes, path: Path) -> tuple[str, str]:
    """UTF-8 (with or without BOM) or, as older Excel writes it, Windows-1252."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    if b"\x00" in raw[:4096]:
        raise broken(path, "CSV")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "cp1252"


def _parse_table(text: str, path: Path, max_features: int | None) -> pd.DataFrame:
    header = text.lstrip().split("\n", 1)[0]
    # German spreadsheets separate with ';' because ',' is their decimal mark.
    separator = max((";", ",", "\t"), key=header.count)
    try:
        table = pd.read_csv(io.StringIO(text), sep=separator, dtype=str, keep_default_na=False,
                            na_values=[""], skipinitialspace=True,
                            nrows=None if max_features is None else max_features + 1)
    except pd.errors.EmptyDataError:
        raise ImportError_(f"Die Datei {path.name} ist leer; es gibt nichts zu importieren.") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ImportError_(
            f"Die CSV-Datei {path.name} ist nicht lesbar ({str(exc).strip()}); prüfen Sie, ob jede "
            f"Zeile so viele Spalten hat wie die Kopfzeile (Trennzeichen »{separator}«)."
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    if max_features is not None and len(table) > max_features:
        raise _too_many(path.name, None, max_features)
    if len(table) == 0:
        raise ImportError_(f"Die Datei {path.name} hat nur eine Kopfzeile und keine Objekte; es "
                           "gibt nichts zu importieren.")
    return table


def _find(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def _csv_geometry(path: Path, table: pd.DataFrame, columns: dict[str, str],
                  requested: CRS | None) -> tuple[np.ndarray, list[str], CRS, dict[int, str]]:
    """Points from coordinate columns, or geometries from a WKT column."""
    lon, lat = _find(columns, LON_NAMES), _find(columns, LAT_NAMES)
    x, y = _find(columns, X_NAMES), _find(columns, Y_NAMES)
    wkt = _find(columns, WKT_NAMES)
    if lon and lat:
        geoms, errors = _points(table, lon, lat)
        return geoms, [lon, lat], requested or WGS84, errors
    if x and y:
        geoms, errors = _points(table, x, y)
        crs = requested or _guess_xy_crs(path, geoms)
        return geoms, [x, y], crs, errors
    if wkt:
        geoms, errors = _from_wkt(table, wkt)
        crs = requested or _guess_xy_crs(path, geoms)
        return geoms, [wkt], crs, errors
    found = ", ".join(table.columns[:12])
    raise ImportError_(
        f"Die CSV-Datei {path.name} hat keine Koordinatenspalten (gefunden: {found}); nötig sind "
        "lon und lat (auch lng/longitude bzw. latitude), x und y mit --crs, oder eine Spalte wkt."
    )


def _points(table: pd.DataFrame, xcol: str, ycol: str) -> tuple[np.ndarray, dict[int, str]]:
    xs = parse_decimal(table[xcol]).to_numpy()
    ys = parse_decimal(table[ycol]).to_numpy()
    good = np.isfinite(xs) & np.isfinite(ys)
    geoms = np.full(len(table), None, dtype=object)
    geoms[good] = shapely.points(xs[good], ys[good])
    errors = {
        int(i): (f"Die Koordinaten fehlen oder sind keine Zahlen ({xcol}: „{table[xcol].iat[i]}“, "
                 f"{ycol}: „{table[ycol].iat[i]}“).").replace("„nan“", "leer")
        for i in np.flatnonzero(~good)
    }
    return geoms, errors


def _from_wkt(table: pd.DataFrame, column: str) -> tuple[np.ndarray, dict[int, str]]:
    texts = table[column].astype(object).where(table[column].notna(), None).to_numpy()
    geoms = shapely.from_wkt(texts, on_invalid="ignore")
    bad = shapely.is_missing(geoms)
    errors = {int(i): f"»{column}« ist keine lesbare WKT-Geometrie." for i in np.flatnonzero(bad)}
    return geoms, errors


def _guess_xy_crs(path: Path, geoms: np.ndarray) -> CRS:
    if _looks_like_degrees(geoms):
        return WGS84
    raise ImportError_(
        f"Die Koordinaten in {path.name}{_example(geoms)} sind nicht Länge/Breite; geben Sie ihr "
        "Koordinatensystem mit --crs an, z. B. --crs EPSG:25832."
    )
