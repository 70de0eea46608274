"""The import allow-list: one format per suffix, the one GDAL driver that reads it, and the checks
of a file's content that come before any driver sees it.

GDAL picks a driver by content, not by name: a ``.geojson`` that holds a VRT document is opened
as VRT, which reads whatever files and URLs it names. So a file is opened only by the driver its
suffix (and, over HTTP, its media type) names, and only after its first bytes show it really is
that format; every other content is refused with a sentence that says what it is.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path, PurePath

from geo_service.errors import InvalidData


class ImportError_(InvalidData):  # noqa: N801 - the trailing underscore avoids the builtin
    """A file that cannot be imported at all (missing, broken, empty, without coordinates …)."""


class ImportTooLarge(ImportError_):
    """A file over one of the import limits (size, unpacked size, features): nothing is read."""

    status = 413
    code = "PayloadTooLarge"


class RefusedFormat(ImportError_):
    """A file whose content is another format than its name says (or one that can point GDAL
    at other files and addresses): refused before GDAL opens it."""


@dataclass(frozen=True)
class Format:
    """One accepted import format."""

    kind: str  # German name, as the messages use it
    suffixes: tuple[str, ...]
    driver: str | None  # the one GDAL driver allowed to open it; None: read without GDAL
    media_types: tuple[str, ...]  # what an upload may declare as its Content-Type
    upload: bool = True  # False: only from the command line (a .shp needs its sibling files)


GEOJSON = Format("GeoJSON", (".geojson", ".json"), "GeoJSON",
                 ("application/geo+json", "application/json", "application/vnd.geo+json"))
GEOPACKAGE = Format("GeoPackage", (".gpkg",), "GPKG",
                    ("application/geopackage+sqlite3", "application/x-sqlite3"))
ZIPPED_SHAPEFILE = Format("gezipptes Shapefile", (".zip",), "ESRI Shapefile",
                          ("application/zip", "application/x-zip-compressed"))
SHAPEFILE = Format("Shapefile", (".shp",), "ESRI Shapefile", (), upload=False)
CSV = Format("CSV", (".csv", ".txt", ".tsv"), None,
             ("text/csv", "text/tab-separated-values", "application/csv",
              "application/vnd.ms-excel"))
FORMATS = (GEOJSON, GEOPACKAGE, ZIPPED_SHAPEFILE, SHAPEFILE, CSV)
#: Media types that say nothing about the format; any suffix may come with them.
NEUTRAL_MEDIA_TYPES = ("", "application/octet-stream", "binary/octet-stream")
FORMATS_TEXT = "GeoJSON, GeoPackage, gezipptes Shapefile oder CSV"


def suffixes(*, upload: bool = False) -> tuple[str, ...]:
    """Every accepted suffix (over HTTP: without .shp, whose sibling files cannot travel along)."""
    return tuple(s for f in FORMATS if f.upload or not upload for s in f.suffixes)


def format_of(name: str, *, upload: bool = False) -> Format:
    """The format a file name declares, or an :class:`ImportError_` naming what is accepted."""
    suffix = PurePath(name.replace("\\", "/")).suffix.lower()
    for fmt in FORMATS:
        if suffix in fmt.suffixes and (fmt.upload or not upload):
            return fmt
    listed = ", ".join(suffixes(upload=upload))
    zipped = "; ein Shapefile wird gezippt hochgeladen" if upload else ""
    raise ImportError_(
        f"Das Dateiformat »{suffix or PurePath(name).name}« wird nicht unterstützt; erlaubt sind "
        f"{FORMATS_TEXT} ({listed}){zipped}."
    )


def check_media_type(fmt: Format, media_type: str, filename: str) -> None:
    """An upload's Content-Type must not name another format than its file name does."""
    media_type = media_type.split(";")[0].strip().lower()
    if media_type in NEUTRAL_MEDIA_TYPES or media_type in fmt.media_types:
        return
    named = next((f.kind for f in FORMATS if media_type in f.media_types), None)
    what = f"{named} ({media_type})" if named else f"»{media_type[:60]}«"
    raise RefusedFormat(
        f"Die Datei {PurePath(filename).name} heißt wie eine {fmt.kind}-Datei, wird aber als "
        f"{what} gesendet; senden Sie sie mit dem passenden Content-Type oder als "
        "application/octet-stream."
    )


# -- what a file really is ------------------------------------------------------------------------
_VRT = "ein GDAL-VRT-Dokument, das andere Dateien und Adressen einbinden kann"
#: First bytes of formats a person might upload by mistake, or an attacker on purpose, and how a
#: message names them. Formats that can reference other datasets say so.
_SIGNATURES: tuple[tuple[re.Pattern[bytes], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.DOTALL), text) for pattern, text in (
        (rb"^\s*<\s*OGRVRTDataSource", _VRT),
        (rb"^\s*<\s*VRTDataset", _VRT),
        (rb"^\s*\{.{0,200}\"type\"\s*:\s*\"gdal_streamed_alg\"",
         "eine GDAL-Verarbeitungsanweisung (GDALG), die andere Dateien und Adressen lesen kann"),
        (rb"^\s*(<\?xml[^>]*>\s*)?<\s*(\w+:)?kml\b", "eine KML-Datei"),
        (rb"^\s*(<\?xml[^>]*>\s*)?<\s*(\w+:)?(FeatureCollection|gml)\b", "eine GML-Datei"),
        (rb"^\s*<", "ein XML- oder HTML-Dokument"),
        (rb"^SQLite format 3\x00", "eine SQLite-Datenbank"),
        (rb"^PK\x03\x04", "ein Zip-Archiv"),
        (rb"^\x00\x00\x27\x0a", "eine einzelne .shp-Datei (ohne ihre .dbf und .shx)"),
        (rb"^fgb\x03", "eine FlatGeobuf-Datei"),
        (rb"^%PDF", "ein PDF-Dokument"),
        (rb"^(\x1f\x8b|BZh|7z\xbc\xaf|Rar!|\xfd7zXZ)", "ein komprimiertes Archiv"),
        (rb"^\s*\{.{0,400}\"(geometryType|spatialReference)\"", "eine Esri-JSON-Datei"),
        (rb"^\s*\{.{0,200}\"type\"\s*:\s*\"Topology\"", "eine TopoJSON-Datei"),
        (rb"^\s*\[", "eine JSON-Liste statt eines GeoJSON-Objekts"),
    ))


def describe(head: bytes) -> str | None:
    """What the first bytes of a file show it to be, for a message; None when unknown."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    for pattern, text in _SIGNATURES:
        if pattern.search(head):
            return text
    return None


def refused(path: Path | str, fmt: Format, what: str) -> RefusedFormat:
    return RefusedFormat(
        f"Die Datei {PurePath(path).name} lässt sich nicht als {fmt.kind} lesen: sie ist {what}. "
        f"Solche Dateien werden abgelehnt; speichern Sie die Daten als {FORMATS_TEXT}."
    )


def broken(path: Path | str, kind: str) -> ImportError_:
    return ImportError_(
        f"Die Datei {PurePath(path).name} lässt sich nicht als {kind} lesen – sie ist beschädigt "
        f"oder hat ein anderes Format; speichern Sie sie erneut als {FORMATS_TEXT}."
    )


def check_content(path: Path, fmt: Format) -> None:
    """Refuse a file whose content is not ``fmt`` before any GDAL driver sees it.

    GeoJSON must be a JSON object whose ``crs`` members only name a CRS (GDAL fetches a
    ``link``); a GeoPackage an SQLite file marked as GeoPackage, holding plain tables only. A
    zipped Shapefile is checked member by member while it is unpacked
    (:mod:`geo_service.io.archive`).
    """
    with path.open("rb") as stream:
        head = stream.read(4096)
    if fmt is GEOJSON:
        _check_geojson(path, head)
    elif fmt is GEOPACKAGE:
        _check_geopackage(path, head)
    elif fmt is SHAPEFILE and not head.startswith(b"\x00\x00\x27\x0a"):
        raise refused(path, fmt, describe(head) or "keine Shapefile-Datei (.shp)")


# -- GeoJSON --------------------------------------------------------------------------------------
#: A string that decodes to "crs" as GDAL's JSON parser (json-c, lenient) finds member names: any
#: case, any letter written as a unicode escape (\u0063 for c), in double or single quotes.
_CRS_TOKEN = re.compile(rb"""(["'])(?:c|\\u00[46]3)(?:r|\\u00[57]2)(?:s|\\u00[57]3)\1""",
                        re.IGNORECASE)
#: What json-c skips between a member's name and its colon: white space and comments.
_GAP = re.compile(rb"(?:\s+|/\*.*?\*/|//[^\n]*)*", re.DOTALL)
#: CRS names GDAL resolves from its own database, never from a file or the network.
_CRS_NAME = re.compile(
    r"^(urn:ogc:def:crs:[A-Za-z]+:[0-9.]*:[A-Za-z0-9]+"
    r"|EPSG:[0-9]+"
    r"|https?://www\.opengis\.net/def/crs/[A-Za-z]+/[0-9.]+/[A-Za-z0-9]+)$")
_LETTER_ESCAPE = re.compile(rb"\\u00[4-7][23]", re.IGNORECASE)
_GDALG = re.compile(rb'"type"\s*:\s*"gdal_streamed_alg"')


def _check_geojson(path: Path, head: bytes) -> None:
    """A JSON object whose ``crs`` members, wherever they are, only name a CRS.

    GDAL's GeoJSON driver fetches the address of a ``crs`` of type ``link`` or ``url`` (at the
    top, in a single feature and in each geometry; the name in any case, escaped or not). Every
    string that could be such a member name is found in the raw bytes; where it is followed by
    a colon its value must be a plain name (checked strictly: comments or single quotes there
    are refused too).
    """
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start.startswith(b"{") or _GDALG.search(head):
        raise refused(path, GEOJSON, describe(head) or "keine JSON-Datei")
    data = path.read_bytes()
    if b"\\u0000" in data:
        # json-c cuts member names at a NUL: "crs\u0000x" would be crs to GDAL.
        raise ImportError_(f"Die Datei {path.name} enthält Nullzeichen (\\u0000); speichern Sie "
                           "sie erneut als GeoJSON.")
    for end in _crs_tokens(data):
        after = _GAP.match(data, end)
        position = after.end() if after else end
        if data[position:position + 1] == b":":
            _check_crs_member(path, data[position + 1:position + 4097])


def _crs_tokens(data: bytes) -> Iterator[int]:
    """Where each string spelling crs ends. The regex costs seconds on 50 MB, so it runs only
    when the file escapes one of the letters; otherwise a search for the plain letters does."""
    if _LETTER_ESCAPE.search(data):
        yield from (match.end() for match in _CRS_TOKEN.finditer(data))
        return
    lowered = data.lower()
    position = lowered.find(b"crs", 1)
    while position != -1:
        quote = lowered[position - 1:position]
        if quote in (b'"', b"'") and lowered[position + 3:position + 4] == quote:
            yield position + 4
        position = lowered.find(b"crs", position + 1)


def _unique_members(pairs: list[tuple[str, object]]) -> dict[str, object]:
    names = [name.lower() for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate member")
    return dict(pairs)


def _check_crs_member(path: Path, raw: bytes) -> None:
    """A ``crs`` member may name a CRS (``name``, ``EPSG``) but not point to one (``link``,
    ``url``): GDAL would fetch that address while opening the file."""
    decoder = json.JSONDecoder(object_pairs_hook=_unique_members)
    try:
        value, _ = decoder.raw_decode(raw.decode("utf-8", errors="replace").lstrip())
    except ValueError:  # not strict JSON, cut off, duplicate members …
        value = ...
    if value is None:
        return
    kind = value.get("type") if isinstance(value, dict) else None
    props = value.get("properties") if isinstance(value, dict) else None
    if (isinstance(value, dict) and set(value) <= {"type", "properties"}
            and isinstance(props, dict) and isinstance(kind, str)):
        if (kind.lower() == "name" and set(props) == {"name"} and isinstance(props["name"], str)
                and _CRS_NAME.match(props["name"])):
            return
        if (kind.lower() == "epsg" and set(props) == {"code"}
                and isinstance(props["code"], int) and not isinstance(props["code"], bool)):
            return
    shown = f" (Typ »{kind[:20]}«)" if isinstance(kind, str) else ""
    raise RefusedFormat(
        f"Die Datei {path.name} gibt ihr Koordinatensystem (»crs«) nicht mit einem bekannten "
        f"Namen wie »urn:ogc:def:crs:EPSG::25832« an{shown}, sondern als Verweis oder Pfad, den "
        "der Server abrufen müsste; das wird abgelehnt. Lassen Sie »crs« weg und geben Sie das "
        "Koordinatensystem mit --crs an."
    )


# -- GeoPackage -----------------------------------------------------------------------------------
#: application_id values of GeoPackage 1.0 (GP10), 1.1 (GP11) and 1.2+ (GPKG).
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_RTREE = re.compile(r"(?i)\bUSING\s+rtree\s*\(")


def _check_geopackage(path: Path, head: bytes) -> None:
    """An SQLite file marked as GeoPackage whose layers are plain tables.

    GDAL evaluates views and generated columns while reading, and virtual tables call modules:
    SQL written by whoever made the file. GDAL 3.12 already refuses the functions that reach out
    (``OGR_SQLITE_ALLOW_EXTERNAL_ACCESS`` is off), but an export from QGIS or ArcGIS holds
    tables, so anything else is refused outright. Triggers only run on writes, and the file is
    opened read-only.
    """
    if not head.startswith(b"SQLite format 3\x00"):
        what = describe(head)
        if what is None:
            raise broken(path, GEOPACKAGE.kind)
        raise refused(path, GEOPACKAGE, what)
    if head[68:72] not in _GPKG_IDS:
        raise refused(path, GEOPACKAGE, "eine SQLite-Datenbank, aber kein GeoPackage (etwa "
                                        "SpatiaLite)")
    try:
        odd = _computed_tables(path)
    except sqlite3.DatabaseError:
        raise broken(path, GEOPACKAGE.kind) from None
    if odd:
        shown = ", ".join(f"»{n[:40]}«" for n in odd[:5])
        raise RefusedFormat(
            f"Die Datei {path.name} enthält Sichten, virtuelle Tabellen oder berechnete Spalten "
            f"({shown}), deren Inhalt erst beim Lesen durch SQL entsteht; das wird abgelehnt. "
            "Exportieren Sie die Daten als einfache Tabelle in ein neues GeoPackage."
        )


def _computed_tables(path: Path) -> list[str]:
    """Views, virtual tables (other than the R-tree spatial index) and tables with generated
    columns, read by SQLite itself (read-only, without GDAL's SQL functions)."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        conn.execute("PRAGMA trusted_schema = OFF")
        rows = conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                            "WHERE type IN ('table', 'view')").fetchall()
        odd = []
        for kind, name, sql in rows:
            virtual = sql.lstrip().upper().startswith("CREATE VIRTUAL TABLE")
            if kind == "view" or (virtual and not _RTREE.search(sql)):
                odd.append(name)
            elif not virtual and any(row[-1] in (2, 3) for row in conn.execute(
                    "SELECT * FROM pragma_table_xinfo(?)", (name,))):
                odd.append(name)  # hidden = 2 or 3: a generated column
        return odd
