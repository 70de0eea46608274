"""Feature validation against a layer: typed properties and geometry, with reasons in German.

The same rules serve file imports (a whole column at a time, :func:`validate_frame`) and the
HTTP write API (one feature, :func:`validate_feature`). Nothing here knows about files or HTTP:
values come in as they were read (strings from a CSV, numbers and lists from GeoJSON) and go out
as plain Python values ready for the database, together with one German sentence per problem.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import opening_hours
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.layers import Layer, Property
from geo_service.settings import Settings

#: Local time of naive date-times: the service is about Lower Saxony.
LOCAL_TZ = ZoneInfo("Europe/Berlin")

#: Columns every GIS tool adds on its own; ignoring them needs no warning.
SILENT_COLUMNS = frozenset({"id", "fid", "ogc_fid", "objectid", "geometry", "geom"})

TRUE_WORDS = frozenset({"ja", "j", "yes", "y", "true", "wahr", "1", "x"})
FALSE_WORDS = frozenset({"nein", "n", "no", "false", "falsch", "0"})

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")
_PHONE = re.compile(r"^[0-9+ ()/\-]+$")
_GEOS_REASON = re.compile(r"^(?P<what>[^\[]*)\[(?P<x>[^ \]]+) (?P<y>[^\]]+)\]$")

#: GEOS validity reasons in German; the English original is kept in the message for lookup.
_GEOS_GERMAN = {
    "Self-intersection": "Selbstüberschneidung",
    "Ring Self-intersection": "Ring schneidet sich selbst",
    "Too few points in geometry component": "zu wenige Punkte",
    "Interior is disconnected": "Innenfläche ist zerteilt",
    "Hole lies outside shell": "Loch liegt außerhalb der Außengrenze",
    "Holes are nested": "Löcher liegen ineinander",
    "Nested shells": "Außengrenzen liegen ineinander",
    "Duplicate Rings": "doppelte Ringe",
    "Invalid Coordinate": "ungültige Koordinate",
    "Ring is not closed": "Ring ist nicht geschlossen",
}

_GEOMETRY_GERMAN = {
    "Point": "Punkt", "MultiPoint": "Mehrfachpunkt", "LineString": "Linie",
    "MultiLineString": "Mehrfachlinie", "Polygon": "Fläche", "MultiPolygon": "Mehrfachfläche",
    "GeometryCollection": "Geometriesammlung", "Geometry": "beliebige Geometrie",
}

# shapely type ids
_POINT, _LINE, _RING, _POLYGON, _MPOINT, _MLINE, _MPOLYGON, _COLLECTION = range(8)
_TYPE_NAMES = {
    _POINT: "Point", _LINE: "LineString", _RING: "LineString", _POLYGON: "Polygon",
    _MPOINT: "MultiPoint", _MLINE: "MultiLineString", _MPOLYGON: "MultiPolygon",
    _COLLECTION: "GeometryCollection",
}
#: Per layer type: accepted as is, promoted to multi, demoted from a single-part multi.
_ACCEPT: dict[str, tuple[set[int], set[int], set[int]]] = {
    "Point": ({_POINT}, set(), {_MPOINT}),
    "MultiPoint": ({_MPOINT}, {_POINT}, set()),
    "LineString": ({_LINE}, set(), {_MLINE}),
    "MultiLineString": ({_MLINE}, {_LINE}, set()),
    "Polygon": ({_POLYGON}, set(), {_MPOLYGON}),
    "MultiPolygon": ({_MPOLYGON}, {_POLYGON}, set()),
}
_MULTI_OF = {_POINT: shapely.MultiPoint, _LINE: shapely.MultiLineString,
             _POLYGON: shapely.MultiPolygon}


# -- service area -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceArea:
    """Where features may lie: a lon/lat box, or a polygon that replaces it.

    ``describe()`` is a German genitive phrase ("des Einsatzgebiets …") for messages.
    """

    bbox: tuple[float, float, float, float]
    polygon: BaseGeometry | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceArea:
        """The area configured in ``settings`` (the polygon file wins over the box).

        Raises
        ------
        ValueError
            When the polygon file cannot be read or holds no polygon.
        """
        if settings.service_area_file is None:
            return cls(tuple(settings.service_area_bbox))  # type: ignore[arg-type]
        path = Path(settings.service_area_file)
        polygon = _read_area_polygon(str(path.resolve()), path.stat().st_mtime)
        return cls(tuple(polygon.bounds), polygon)  # type: ignore[arg-type]

    def intersects(self, geoms: np.ndarray) -> np.ndarray:
        """Which geometries touch the area at all (a point must lie in it)."""
        if self.polygon is not None:
            return shapely.intersects(self.polygon, geoms)
        x0, y0, x1, y1 = self.bbox
        bounds = shapely.bounds(geoms)
        with np.errstate(invalid="ignore"):
            return (
                (bounds[:, 2] >= x0) & (bounds[:, 0] <= x1)
                & (bounds[:, 3] >= y0) & (bounds[:, 1] <= y1)
            )

    def describe(self) -> str:
        if self.polygon is not None:
            return "des konfigurierten Einsatzgebiets"
        x0, y0, x1, y1 = self.bbox
        return f"des Einsatzgebiets (Länge {x0}–{x1}, Breite {y0}–{y1})"


@lru_cache(maxsize=4)
def _read_area_polygon(path: str, mtime: float) -> BaseGeometry:
    """Read (once per file version) and dissolve the service-area polygon, in EPSG:4326."""
    import geopandas as gpd  # heavy; only needed when a polygon file is configured

    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise ValueError(f"Die Einsatzgebietsdatei {path} ist nicht lesbar: {exc}") from exc
    if frame.crs is not None:
        frame = frame.to_crs(4326)
    polygon = shapely.union_all(frame.geometry.values)
    if polygon.is_empty or polygon.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"Die Einsatzgebietsdatei {path} enthält keine Fläche.")
    shapely.prepare(polygon)
    return polygon


# -- results ------------------------------------------------------------------------------------
@dataclass
class FeatureResult:
    """One validated feature: clean values, the (possibly promoted) geometry, and problems."""

    values: dict[str, Any]
    geometry: BaseGeometry | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class FrameResult:
    """A validated table: clean columns (property name -> values), geometries, problems by row."""

    columns: dict[str, list[Any]]
    geometry: np.ndarray
    errors: list[list[str]]
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> list[int]:
        """Positions (0-based) of the rows with at least one error."""
        return [i for i, errs in enumerate(self.errors) if errs]

    @property
    def ok(self) -> bool:
        return not any(self.errors)


# -- entry points -------------------------------------------------------------------------------
def validate_feature(
    layer: Layer,
    properties: Mapping[str, Any],
    geometry: BaseGeometry | None,
    *,
    area: ServiceArea | None,
    geometry_optional: bool = False,
) -> FeatureResult:
    """Validate one feature (e.g. from the HTTP write API).

    Parameters
    ----------
    layer
        The layer the feature is meant for.
    properties
        Values as received: strings are coerced to the property's type.
    geometry
        A shapely geometry in EPSG:4326, or None.
    area
        Where features may lie; None skips the check.
    geometry_optional
        True when the database derives a missing geometry (e.g. an offer at a meeting place).

    Returns
    -------
    FeatureResult
        ``values`` holds only known, writable properties; ``errors`` is empty when it may be stored.

    Examples
    --------
    >>> result = validate_feature(layer, {"name": "Treff", "website": "javascript:alert(1)"},
    ...                           Point(9.7, 52.4), area=None)  # doctest: +SKIP
    >>> result.errors  # doctest: +SKIP
    ['»website«: „javascript:alert(1)“ ist keine http- oder https-Adresse.']
    """
    frame = pd.DataFrame([dict(properties)]) if properties else pd.DataFrame(index=[0])
    geoms = np.empty(1, dtype=object)
    geoms[0] = geometry
    result = validate_frame(layer, frame, geoms, area=area, geometry_optional=geometry_optional)
    values = {name: column[0] for name, column in result.columns.items()}
    return FeatureResult(values, result.geometry[0], result.errors[0], result.warnings)


def validate_frame(
    layer: Layer,
    frame: pd.DataFrame,
    geometry: Sequence[BaseGeometry | None] | np.ndarray,
    *,
    area: ServiceArea | None,
    geometry_optional: bool | np.ndarray = False,
) -> FrameResult:
    """Validate a table of features column by column (vectorised where the type allows).

    Parameters
    ----------
    layer
        The layer the rows are meant for.
    frame
        One column per property (extra columns are reported as warnings and dropped). The
        geometry column, if any, is ignored: pass the geometries separately.
    geometry
        Shapely geometries in EPSG:4326 (None where missing), one per row of ``frame``.
    area
        Where features may lie; None skips the check.
    geometry_optional
        Per row (or for all rows): a missing geometry is acceptable there.

    Returns
    -------
    FrameResult
        Clean columns for every writable property of the layer (None where empty) and a list of
        German reasons per row.
    """
    n = len(frame)
    errors: list[list[str]] = [[] for _ in range(n)]
    warnings = _column_warnings(layer, frame)
    columns: dict[str, list[Any]] = {}
    for prop in layer.properties:
        if prop.read_only:
            continue
        raw = frame[prop.name] if prop.name in frame.columns else pd.Series([None] * n)
        columns[prop.name] = _validate_column(prop, raw.reset_index(drop=True), errors)
    _check_temporal(layer, columns, errors)
    geoms, geom_warnings = validate_geometries(
        layer, np.asarray(geometry, dtype=object), errors, area=area,
        geometry_optional=geometry_optional,
    )
    return FrameResult(columns, geoms, errors, warnings + geom_warnings)


def _column_warnings(layer: Layer, frame: pd.DataFrame) -> list[str]:
    """Unknown columns and read-only ones are dropped; say so once per column, not per row."""
    known = {p.name: p for p in layer.properties}
    warnings = []
    for column in frame.columns:
        name = str(column)
        prop = known.get(name)
        if prop is None and name.lower() not in SILENT_COLUMNS:
            warnings.append(f"Die Spalte »{name}« gehört nicht zum Layer »{layer.id}« und wird "
                            "ignoriert.")
        elif prop is not None and prop.read_only:
            warnings.append(f"»{name}« wird automatisch bestimmt; die Werte aus der Datei werden "
                            "ignoriert.")
    return warnings


# -- properties ---------------------------------------------------------------------------------
def _validate_column(prop: Property, raw: pd.Series, errors: list[list[str]]) -> list[Any]:
    """Coerce one column; append a reason to ``errors`` for every bad cell."""
    n = len(raw)
    missing = _missing(raw)
    out: list[Any] = [None] * n
    present = np.flatnonzero(~missing)
    if prop.required:
        for i in np.flatnonzero(missing):
            errors[i].append(f"Pflichtfeld »{prop.name}« fehlt.")
    if len(present) == 0:
        return out
    subset = raw.iloc[present]
    coerce = _COERCERS[prop.type]
    values, bad = coerce(subset)
    _check_enum(prop, values, bad)
    for pos, value, is_bad, original in zip(present, values, bad, subset.tolist()):
        if is_bad:
            errors[pos].append(_type_message(prop, original, is_bad))
        elif prop.max_length is not None and isinstance(value, str) and len(value) > prop.max_length:
            errors[pos].append(f"»{prop.name}« ist zu lang ({len(value)} Zeichen, höchstens "
                               f"{prop.max_length}).")
        elif "\x00" in (value if isinstance(value, str) else
                        "".join(v for v in value if isinstance(v, str)) if isinstance(value, list)
                        else ""):
            # PostgreSQL text cannot hold a NUL character: the write would fail.
            errors[pos].append(f"»{prop.name}« enthält ein Nullzeichen (NUL); entfernen Sie es.")
        else:
            out[pos] = value
    return out


def _missing(raw: pd.Series) -> np.ndarray:
    """None, NaN, NaT, blank strings and empty lists all mean "no value"."""
    missing = np.array(raw.isna(), dtype=bool)
    kind = pd.api.types.infer_dtype(raw, skipna=True)
    if kind == "string":
        missing |= raw.fillna("").astype(str).str.strip().eq("").to_numpy()
    elif kind == "mixed":
        missing |= np.fromiter(
            ((isinstance(v, str) and not v.strip()) or (isinstance(v, list | tuple) and not v)
             for v in raw), dtype=bool, count=len(raw))
    return missing


def _type_message(prop: Property, value: Any, why: str | bool) -> str:
    shown = _shorten(value)
    if isinstance(why, str):
        return f"»{prop.name}«: {why.format(value=shown)}"
    return f"»{prop.name}«: „{shown}“ {_TYPE_EXPECTED[prop.type]}."


def _shorten(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TYPE_EXPECTED = {
    "string": "ist kein Text", "text": "ist kein Text",
    "integer": "ist keine ganze Zahl", "number": "ist keine Zahl",
    "boolean": "ist kein Ja/Nein-Wert (erlaubt: ja, nein, true, false, 1, 0)",
    "date": "ist kein Datum (JJJJ-MM-TT oder TT.MM.JJJJ)",
    "datetime": "ist kein Zeitpunkt (JJJJ-MM-TTThh:mm, z. B. 2024-08-19T14:00)",
    "string[]": "ist keine Liste (JSON-Liste oder durch ; getrennt)",
    "url": "ist keine http- oder https-Adresse",
    "email": "ist keine E-Mail-Adresse",
    "phone": "ist keine Telefonnummer (erlaubt: Ziffern, Leerzeichen, + / - und Klammern)",
    "opening_hours": "ist keine gültige Angabe im OSM-opening_hours-Format "
                     "(z. B. „Mo-Fr 09:00-17:00“)",
}

Coerced = tuple[list[Any], list[str | bool]]


def _map_unique(subset: pd.Series, parse: Callable[[Any], Any]) -> Coerced:
    """Parse each distinct value once (columns repeat values a lot); ``parse`` raises on bad input."""
    cache: dict[Any, tuple[Any, str | bool]] = {}
    values: list[Any] = []
    bad: list[str | bool] = []
    for value in subset.tolist():
        key = (type(value), value) if _hashable(value) else None
        hit = cache.get(key) if key is not None else None
        if hit is None:
            try:
                hit = (parse(value), False)
            except _Invalid as exc:
                hit = (None, exc.reason or True)
            except (ValueError, TypeError, OverflowError):
                hit = (None, True)
            if key is not None:
                cache[key] = hit
        values.append(hit[0])
        bad.append(hit[1])
    return values, bad


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | dt.date | pd.Timestamp)


class _Invalid(ValueError):
    """A value that is wrong in a way worth its own sentence (``{value}`` is filled in)."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a postcode read as 38518.0 is still "38518"
    if isinstance(value, list | tuple | dict):
        raise _Invalid()
    return str(value).strip()


def _coerce_text(subset: pd.Series) -> Coerced:
    if pd.api.types.infer_dtype(subset, skipna=True) == "string":
        values = subset.astype(str).str.strip().tolist()
        return values, [False] * len(values)
    return _map_unique(subset, _text)


def parse_decimal(subset: pd.Series) -> pd.Series:
    """Numbers as written in Germany or elsewhere: ``1.234,5`` and ``1234.5`` both give 1234.5.

    Returns a float Series with NaN where a value is not a number.
    """
    if pd.api.types.is_bool_dtype(subset):
        return pd.Series(np.nan, index=subset.index)
    if pd.api.types.is_numeric_dtype(subset):
        return subset.astype(float)
    text = subset.astype(str).str.strip().str.replace(" ", "", regex=False)
    comma = text.str.contains(",", regex=False)
    german = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    text = text.where(~comma, german)
    numbers = pd.to_numeric(text, errors="coerce").astype(float)
    # Python bools would pass to_numeric as 0/1: a yes/no is not a number.
    is_bool = subset.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
    return numbers.where(~is_bool, np.nan)


def _coerce_number(subset: pd.Series) -> Coerced:
    numbers = parse_decimal(subset).to_numpy()
    bad = ~np.isfinite(numbers)
    return numbers.tolist(), bad.tolist()


def _coerce_integer(subset: pd.Series) -> Coerced:
    numbers = parse_decimal(subset).to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(numbers) | (np.mod(numbers, 1) != 0) | (np.abs(numbers) > 2**53)
    values = [None if b else int(v) for v, b in zip(numbers.tolist(), bad)]
    return values, bad.tolist()


def _bool(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise _Invalid()


def _date(value: Any) -> dt.date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
        return dt.datetime.strptime(text, "%d.%m.%Y").date()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise _Invalid()
    return dt.date.fromisoformat(text)


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        text = str(value).strip()
        german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(\d{1,2}):(\d{2}))?", text)
        if german:
            day, month, year, hour, minute = german.groups()
            parsed = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0))
        elif re.match(r"^\d{4}-\d{2}-\d{2}", text):
            parsed = dt.datetime.fromisoformat(text)
        else:
            raise _Invalid()
    # A time without a zone is local time in Lower Saxony, not UTC.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=LOCAL_TZ)


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise _Invalid("„{value}“ ist keine gültige JSON-Liste.") from None
        else:
            separator = ";" if ";" in text else ","
            value = text.split(separator)
    if not isinstance(value, list | tuple):
        raise _Invalid()
    items = []
    for item in value:
        if isinstance(item, list | tuple | dict):
            raise _Invalid()
        if item is not None and str(item).strip():
            items.append(_text(item))
    return items or None


def _coerce_string_list(subset: pd.Series) -> Coerced:
    values: list[Any] = []
    bad: list[str | bool] = []
    for value in subset.tolist():
        try:
            values.append(_string_list(value))
            bad.append(False)
        except _Invalid as exc:
            values.append(None)
            bad.append(exc.reason or True)
    return values, bad


def _url(value: Any) -> str:
    text = _text(value)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise _Invalid() from None
    # Only web links: javascript:, data:, file: and friends must never reach a popup.
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _Invalid()
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise _Invalid("„{value}“ enthält Leerzeichen oder Steuerzeichen.")
    return text


def _email(value: Any) -> str:
    text = _text(value)
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not _EMAIL.match(text):
        raise _Invalid()
    return text


def _phone(value: Any) -> str:
    text = _text(value)
    if not _PHONE.match(text) or sum(ch.isdigit() for ch in text) < 3:
        raise _Invalid()
    return text


def _opening_hours(value: Any) -> str:
    text = _text(value)
    if not opening_hours.validate(text):
        raise _Invalid()
    return text


def _unique(parse: Callable[[Any], Any]) -> Callable[[pd.Series], Coerced]:
    return lambda subset: _map_unique(subset, parse)


_COERCERS: dict[str, Callable[[pd.Series], Coerced]] = {
    "string": _coerce_text,
    "text": _coerce_text,
    "integer": _coerce_integer,
    "number": _coerce_number,
    "boolean": _unique(_bool),
    "date": _unique(_date),
    "datetime": _unique(_datetime),
    "string[]": _coerce_string_list,
    "url": _unique(_url),
    "email": _unique(_email),
    "phone": _unique(_phone),
    "opening_hours": _unique(_opening_hours),
}


def _check_enum(prop: Property, values: list[Any], bad: list[str | bool]) -> None:
    """Enum membership, in place; a value differing only in case is taken in its listed form."""
    if not prop.enum:
        return
    canonical = {item.lower(): item for item in prop.enum}
    allowed = ", ".join(prop.enum)
    for i, value in enumerate(values):
        if bad[i] or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        fixed = [canonical.get(str(item).lower()) for item in items]
        wrong = [str(item) for item, f in zip(items, fixed) if f is None]
        if wrong:
            bad[i] = (f"„{'“, „'.join(wrong)}“ ist nicht erlaubt (erlaubt: {allowed}).")
        else:
            values[i] = fixed if isinstance(value, list) else fixed[0]


def _check_temporal(layer: Layer, columns: dict[str, list[Any]], errors: list[list[str]]) -> None:
    """An end before its start is a typo the map would show as nonsense."""
    if not layer.temporal:
        return
    start_name, end_name = layer.temporal
    starts, ends = columns.get(start_name), columns.get(end_name)
    if starts is None or ends is None:
        return
    for i, (start, end) in enumerate(zip(starts, ends)):
        if start is not None and end is not None and type(start) is type(end) and end < start:
            errors[i].append(f"»{end_name}« ({end}) liegt vor »{start_name}« ({start}).")


# -- geometry -----------------------------------------------------------------------------------
def validate_geometries(
    layer: Layer,
    geoms: np.ndarray,
    errors: list[list[str]],
    *,
    area: ServiceArea | None,
    geometry_optional: bool | np.ndarray = False,
) -> tuple[np.ndarray, list[str]]:
    """Check geometries (EPSG:4326) in place of ``errors``; returns the geometries to store.

    Missing or empty, wrong type for the layer, invalid (with the GEOS reason and where), and
    outside the service area are errors. Z values are dropped with a warning; a Polygon for a
    MultiPolygon layer is promoted, a single-part multi for a single layer is unwrapped.
    Invalid geometries are never repaired: the person who drew them has to look.
    """
    n = len(geoms)
    warnings: list[str] = []
    geoms = geoms.copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    optional = np.broadcast_to(np.asarray(geometry_optional, dtype=bool), (n,))
    for i in np.flatnonzero(missing & ~optional):
        errors[i].append("Die Geometrie fehlt oder ist leer.")
    geoms[missing] = None
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
        warnings.append("Höhenangaben (Z) werden nicht gespeichert.")
    checkable = ~missing & _check_types(layer, geoms, errors)
    valid = shapely.is_valid(geoms)
    for i in np.flatnonzero(checkable & ~valid):
        errors[i].append(_invalid_message(shapely.is_valid_reason(geoms[i])))
    checkable &= valid
    if area is not None and checkable.any():
        index = np.flatnonzero(checkable)
        inside = area.intersects(geoms[index])
        for i in index[~inside]:
            point = geoms[i].representative_point()
            errors[i].append(f"Die Geometrie liegt außerhalb {area.describe()}: bei Länge "
                             f"{point.x:.5f}, Breite {point.y:.5f}.")
    return geoms, warnings


def _check_types(layer: Layer, geoms: np.ndarray, errors: list[list[str]]) -> np.ndarray:
    """Wrong types become errors; promotions and unwrappings happen in place. Returns ok mask."""
    ok = np.ones(len(geoms), dtype=bool)
    if layer.geometry_type == "Geometry":
        return ok
    accepted, promoted, unwrapped = _ACCEPT[layer.geometry_type]
    type_ids = shapely.get_type_id(geoms)
    for i in np.flatnonzero(type_ids >= 0):
        type_id = int(type_ids[i])
        if type_id in accepted:
            continue
        if type_id in promoted:
            geoms[i] = _MULTI_OF[type_id]([geoms[i]])
        elif type_id in unwrapped and shapely.get_num_geometries(geoms[i]) == 1:
            geoms[i] = shapely.get_geometry(geoms[i], 0)
        else:
            given = _GEOMETRY_GERMAN.get(_TYPE_NAMES.get(type_id, ""), "unbekannte Geometrie")
            wanted = _GEOMETRY_GERMAN[layer.geometry_type]
            errors[i].append(f"Falscher Geometrietyp: {given} ({_TYPE_NAMES.get(type_id)}), der "
                             f"Layer »{layer.id}« erwartet {wanted} ({layer.geometry_type}).")
            ok[i] = False
    return ok


def _invalid_message(reason: str | None) -> str:
    """``Self-intersection[9.1 52.3]`` -> a German sentence with the place to look at."""
    match = _GEOS_REASON.match(reason or "")
    if not match:
        return f"Ungültige Geometrie: {reason}."
    what = match["what"].strip()
    german = _GEOS_GERMAN.get(what, what)
    try:
        x, y = float(match["x"]), float(match["y"])
        where = (f"bei Länge {x:.6f}, Breite {y:.6f}" if math.isfinite(x) and math.isfinite(y)
                 else f"bei {match['x']} {match['y']}")
    except ValueError:
        where = f"bei {match['x']} {match['y']}"
    return f"Ungültige Geometrie: {german} {where} ({reason})."
