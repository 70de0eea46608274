"""Importing features into a layer: validate everything, then write all or nothing in one transaction.

Rows go to the database with ``COPY`` into a temporary table and one ``INSERT … SELECT`` into the
layer's table (core layers: their own columns; custom layers: ``features(layer, properties,
geom)``), so a million points take seconds and triggers (quartier of a meeting place, position
of an offer) run as for any other insert. The same statements write the history: one row per
imported feature (action ``import``) and, with ``replace``, one per deleted feature (``delete``),
set-based through data-modifying CTEs, so a killed import leaves neither data nor history behind.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from pyproj import CRS

from geo_service.db.engine import sync_engine
from geo_service.io.reader import WGS84, ImportError_, ImportTooLarge, read_path
from geo_service.layers import Layer, Property, Registry
from geo_service.queries.edit import _all_properties
from geo_service.settings import Settings
from geo_service.validation import FrameResult, ServiceArea, validate_frame

__all__ = ["BeforeCommit", "ImportError_", "ImportReport", "ImportTooLarge", "Rejected",
           "import_frame", "import_path"]

log = logging.getLogger(__name__)

#: PostgreSQL types of the temporary import table, by property type.
SQL_TYPES = {
    "string": "text", "text": "text", "url": "text", "email": "text", "phone": "text",
    "opening_hours": "text", "integer": "int8", "number": "float8", "boolean": "bool",
    "date": "date", "datetime": "timestamptz", "string[]": "text[]",
}
#: Types whose Python value is already the text PostgreSQL parses.
_COPY_TYPES = {"jsonb": "text"}
#: Offers: where the database finds the position when the file gives none.
OFFER_PLACE_COLUMNS = ("meeting_place_id", "meeting_place", "quartier_id")
#: Shapefile field names are cut to this many characters.
DBF_NAME_LENGTH = 10


class Rejected(NamedTuple):
    """One rejected feature: its row or feature number, its name if it has one, and why."""

    number: int | None
    name: str | None
    reason: str


#: Parts of a rejection sentence that differ from feature to feature (values, numbers), left out
#: when rejections are counted by reason.
_VARYING = re.compile(r"„[^“]*“|\([^)]*\)|-?\d+(?:[.,]\d+)*")


def reason_kind(sentence: str) -> str:
    """A rejection sentence without its values, so that equal reasons count together."""
    return _VARYING.sub("…", sentence)[:200]


@dataclass
class ImportReport:
    """What an import did, or would have done, and why features were refused.

    ``rejected`` lists the first ``listed_limit`` rejected features; ``rejected_count`` and
    ``reasons`` (sentences without their values, with how often each occurred) cover all of them,
    so a file with a million bad rows gives a report of bounded size.
    """

    layer: str
    source: str
    unit: str = "Objekt"
    total: int = 0
    imported: int = 0
    replaced: int = 0
    dry_run: bool = False
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejected_count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    listed_limit: int | None = None

    @property
    def ok(self) -> bool:
        """True when no feature was rejected (and the database accepted the rest)."""
        return not self.rejected and not self.rejected_count

    def reject(self, item: Rejected, sentences: Sequence[str]) -> None:
        """Count a rejected feature (and its reasons); list it while under the limit."""
        self.rejected_count += 1
        self.reasons.update(reason_kind(s) for s in sentences)
        if self.listed_limit is None or len(self.rejected) < self.listed_limit:
            self.rejected.append(item)

    @property
    def unlisted(self) -> int:
        """Rejected features counted but not listed one by one."""
        listed = sum(1 for r in self.rejected if r.number is not None)
        return max(self.rejected_count - listed, 0)

    def summary(self) -> str:
        """German text for a person: the outcome, hints, and every listed rejected feature with
        reasons (beyond the limit: how many more, and the reasons counted)."""
        lines = [self._headline()]
        lines += [f"  Hinweis: {w}" for w in self.warnings]
        for item in self.rejected:
            where = f"{self.unit} {item.number}" if item.number is not None else "Datenbank"
            name = f" (»{item.name}«)" if item.name else ""
            lines.append(f"  - {where}{name}: {item.reason}")
        if self.unlisted:
            lines.append(f"  … und {_number(self.unlisted)} weitere abgelehnte Objekte. Gründe "
                         "insgesamt:")
            lines += [f"  {_number(n)} × {kind}" for kind, n in self.reasons.most_common(20)]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """The report as the HTTP import answers it (and a job keeps it): on rejection an OGC
        exception document with the listed rejections and the counts per reason."""
        doc: dict[str, object] = {
            "layer": self.layer, "source": self.source, "total": self.total,
            "imported": self.imported, "replaced": self.replaced, "dry_run": self.dry_run,
            "warnings": self.warnings, "summary": self.summary()}
        if self.ok:
            return doc
        headline = self._headline()
        rejected = [{"number": r.number, "unit": self.unit if r.number is not None else None,
                     "name": r.name, "reason": r.reason} for r in self.rejected]
        return {"code": "InvalidData", "description": headline, "detail": headline,
                "status": 400, **doc, "imported": 0, "replaced": 0, "rejected": rejected,
                "rejected_count": self.rejected_count,
                "rejected_unlisted": self.unlisted,
                "reasons": [{"reason": kind, "count": n}
                            for kind, n in self.reasons.most_common(100)]}

    def _headline(self) -> str:
        target = f"»{self.layer}« aus {self.source}"
        if not self.ok:
            counted = self.rejected_count
            share = (f"{_number(counted)} von {_number(self.total)} Objekten abgelehnt" if counted
                     else "abgelehnt")
            return (f"Import in {target}: {share} – nichts wurde gespeichert. Korrigieren Sie die "
                    "folgenden Objekte und importieren Sie die Datei erneut:")
        replaced = f", {self.replaced} bisherige ersetzt" if self.replaced else ""
        if self.dry_run:
            return (f"Probelauf für {target}: alle {self.imported} Objekte sind in Ordnung"
                    f"{replaced}; nichts wurde gespeichert.")
        return f"Import in {target}: {self.imported} Objekte gespeichert{replaced}."


def _number(n: int) -> str:
    """A count as Germans write it (1.234.567)."""
    return f"{n:,}".replace(",", ".")


#: Called inside the import's transaction just before it commits; returning False rolls the
#: import back instead (a job uses it to record its outcome in the same transaction).
BeforeCommit = Callable[[psycopg.Connection, "ImportReport"], bool]


# -- entry points -------------------------------------------------------------------------------
def import_path(
    url: str,
    registry: Registry,
    layer_id: str,
    path: Path | str,
    *,
    settings: Settings,
    crs: str | None = None,
    dry_run: bool = False,
    replace: bool = False,
    file_layer: str | None = None,
    actor: str = "cli",
    key_id: int | None = None,
    before_commit: BeforeCommit | None = None,
) -> ImportReport:
    """Import a GIS file into a layer, all or nothing.

    Parameters
    ----------
    url
        Database URL.
    registry, layer_id
        The target layer.
    path
        GeoJSON, GeoPackage, zipped Shapefile or CSV (see :func:`geo_service.io.reader.read_path`).
    settings
        For the service area and the import limits (file size, unpacked size, features, listed
        rejections).
    crs
        CRS of a CSV's x/y columns, or of a file that declares none.
    dry_run
        Validate and try the insert, then roll back: nothing is stored.
    replace
        Delete the layer's features first, in the same transaction.
    file_layer
        Layer inside a GeoPackage.
    actor, key_id
        Who the history names for every imported (and replaced) feature: ``"cli"`` for the
        command line, the API key's actor and id for an upload.
    before_commit
        Runs in the import's transaction just before it commits (not for dry runs or
        rejections); when it returns False the import is rolled back.

    Returns
    -------
    ImportReport
        ``ok`` is False when any feature was rejected; then nothing was stored.

    Raises
    ------
    ImportTooLarge
        The file is over one of the import limits.
    ImportError_
        Unknown layer, or a file that cannot be read at all.

    Examples
    --------
    >>> report = import_path(url, registry, "spielplaetze", "spielplaetze.gpkg",
    ...                      settings=Settings())  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
    Import in »spielplaetze« aus spielplaetze.gpkg: 42 Objekte gespeichert.
    """
    layer = resolve_layer(registry, layer_id)
    path = Path(path)
    data = read_path(path, crs=crs, file_layer=file_layer, max_upload_mb=settings.max_upload_mb,
                     max_unpacked_mb=settings.import_max_unpacked_mb,
                     max_features=settings.import_max_features)
    report = import_frame(
        url, layer, data.frame, settings=settings, dry_run=dry_run, replace=replace,
        source=path.name, unit=data.unit, row_errors=data.row_errors, actor=actor, key_id=key_id,
        before_commit=before_commit,
    )
    report.warnings[:0] = data.warnings
    return report


def resolve_layer(registry: Registry, layer_id: str) -> Layer:
    """The registered layer, or an :class:`ImportError_` naming the known ones."""
    layer = registry.get(layer_id)
    if layer is None:
        raise ImportError_(f"Den Layer »{layer_id}« gibt es nicht; bekannt sind: "
                           f"{', '.join(registry.ids())}.")
    return layer


def import_frame(
    url: str,
    layer: Layer,
    frame: gpd.GeoDataFrame,
    *,
    settings: Settings,
    dry_run: bool = False,
    replace: bool = False,
    source: str = "Daten",
    unit: str = "Objekt",
    row_errors: dict[int, str] | None = None,
    actor: str = "cli",
    key_id: int | None = None,
    before_commit: BeforeCommit | None = None,
) -> ImportReport:
    """Validate a GeoDataFrame against ``layer`` and write it in one transaction, all or nothing.

    Parameters
    ----------
    url
        Database URL.
    layer
        The target layer.
    frame
        One row per feature, one column per property; geometries in any declared CRS (EPSG:4326
        when none). A default 0-based index is reported as feature numbers 1, 2, …; any other
        index is reported as it is (e.g. CSV line numbers).
    settings
        For the service area and how many rejections the report lists.
    dry_run, replace
        As in :func:`import_path`.
    source, unit
        How the report names the data and its rows ("Zeile" or "Objekt").
    row_errors
        Problems the reader already found, by index label.
    actor, key_id, before_commit
        As in :func:`import_path`.

    Returns
    -------
    ImportReport
    """
    frame = _in_wgs84(frame)
    numbers = _numbers(frame.index)
    report = ImportReport(layer=layer.id, source=source, unit=unit, total=len(frame),
                          dry_run=dry_run, listed_limit=settings.import_report_rejections)
    attributes = _match_columns(pd.DataFrame(frame.drop(columns=frame.geometry.name)), layer)
    optional = _geometry_optional(layer, attributes)
    place_names = _pop_place_names(layer, attributes)
    reader_errors = np.array([n in (row_errors or {}) for n in numbers], dtype=bool)
    result = validate_frame(
        layer, attributes, frame.geometry.to_numpy(), area=ServiceArea.from_settings(settings),
        geometry_optional=optional | reader_errors,
    )
    report.warnings += result.warnings
    for pos in np.flatnonzero(reader_errors):
        result.errors[pos].insert(0, (row_errors or {})[numbers[pos]])
    _write(url, layer, result, place_names, report, numbers, attributes, replace=replace,
           who=_Who(actor, key_id), before_commit=before_commit)
    return report


# -- preparing the frame ------------------------------------------------------------------------
def _in_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is None:
        return frame.set_crs(WGS84)
    if CRS.from_user_input(frame.crs).equals(WGS84, ignore_axis_order=True):
        return frame
    return frame.to_crs(WGS84)


def _numbers(index: pd.Index) -> list[int]:
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return list(range(1, len(index) + 1))
    return [int(n) for n in index]


def _match_columns(attributes: pd.DataFrame, layer: Layer) -> pd.DataFrame:
    """Find properties under the names tools give them: any case, or cut to 10 by Shapefiles."""
    names = [p.name for p in layer.properties]
    renames: dict[str, str] = {}
    for column in attributes.columns:
        key = str(column)
        if key in names:
            continue
        lowered = [n for n in names if n == key.lower()]
        cut = [n for n in names if len(key) == DBF_NAME_LENGTH and n.startswith(key.lower())]
        match = lowered or cut
        if len(match) == 1 and match[0] not in attributes.columns:
            renames[key] = match[0]
    return attributes.rename(columns=renames)


def _pop_place_names(layer: Layer, attributes: pd.DataFrame) -> list[Any] | None:
    """Offers may name their meeting place instead of its id; the name is resolved later."""
    if layer.source_table != "offers" or "meeting_place" not in attributes.columns:
        return None
    names = attributes.pop("meeting_place")
    return [n.strip() if isinstance(n, str) and n.strip() else None for n in names.tolist()]


def _geometry_optional(layer: Layer, attributes: pd.DataFrame) -> np.ndarray:
    """Offers held at a meeting place or in a quartier get their position from the database."""
    optional = np.zeros(len(attributes), dtype=bool)
    if layer.source_table != "offers":
        return optional
    for column in OFFER_PLACE_COLUMNS:
        if column in attributes.columns:
            values = attributes[column]
            given = values.notna() & values.astype(str).str.strip().ne("")
            optional |= given.to_numpy(dtype=bool)
    return optional


def _display_name(layer: Layer, attributes: pd.DataFrame) -> list[str | None]:
    """The column a person recognises a feature by (name, title, or the first required text)."""
    candidates = [n for n in ("name", "title") if layer.property(n)]
    candidates += [p.name for p in layer.properties if p.required and p.type == "string"]
    for column in candidates:
        if column in attributes.columns:
            return [str(v).strip() if isinstance(v, str) and v.strip() else None
                    for v in attributes[column].tolist()]
    return [None] * len(attributes)


# -- writing ------------------------------------------------------------------------------------
class _Who(NamedTuple):
    """Who the history rows of an import name."""

    actor: str
    key_id: int | None


def _write(
    url: str,
    layer: Layer,
    result: FrameResult,
    place_names: list[Any] | None,
    report: ImportReport,
    numbers: list[int],
    attributes: pd.DataFrame,
    *,
    replace: bool,
    who: _Who,
    before_commit: BeforeCommit | None = None,
) -> None:
    """One transaction: resolve names, replace, COPY, INSERT … SELECT; roll back on any problem."""
    engine = sync_engine(url)
    raw = engine.raw_connection()
    conn: psycopg.Connection = raw.driver_connection  # type: ignore[assignment]
    try:
        if place_names is not None:
            _resolve_places(conn, result, place_names)
        _collect_rejections(result, report, numbers, _display_name(layer, attributes))
        if not report.ok:
            conn.rollback()
            return
        with conn.cursor() as cur:
            if replace:
                report.replaced = _delete_layer(cur, layer, who)
            report.imported = _copy_insert(cur, layer, result, who)
        if report.dry_run:
            conn.rollback()
        elif before_commit is None or before_commit(conn, report):
            conn.commit()
        else:
            conn.rollback()
            report.imported = report.replaced = 0
    except psycopg.Error as exc:
        conn.rollback()
        log.warning("import into %s failed in the database: %s", layer.id, exc)
        report.imported = report.replaced = 0
        report.rejected.append(Rejected(None, None, _database_reason(exc)))
    finally:
        raw.close()
        engine.dispose()


def _collect_rejections(result: FrameResult, report: ImportReport, numbers: list[int],
                        names: list[str | None]) -> None:
    for pos in result.rejected:
        errors = result.errors[pos]
        report.reject(Rejected(numbers[pos], names[pos], " ".join(errors)), errors)


def _database_reason(exc: psycopg.Error) -> str:
    diag = exc.diag
    detail = f" ({_shorten(diag.message_detail)})" if diag.message_detail else ""
    return (f"Die Datenbank hat den Import abgelehnt: {diag.message_primary or exc}{detail}. "
            "Nichts wurde gespeichert.")


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _resolve_places(conn: psycopg.Connection, result: FrameResult, names: list[Any]) -> None:
    """Offer rows naming a meeting place get its id, if exactly one place has that name."""
    ids = result.columns["meeting_place_id"]
    wanted = sorted({n for n, i in zip(names, ids) if n is not None and i is None})
    if not wanted:
        return
    rows = conn.execute(
        "SELECT name, array_agg(id ORDER BY id) FROM meeting_places WHERE name = ANY(%s) "
        "GROUP BY name", [wanted],
    ).fetchall()
    found = {name: place_ids for name, place_ids in rows}
    for pos, (name, given) in enumerate(zip(names, ids)):
        if name is None or given is not None:
            continue
        matches = found.get(name, [])
        if len(matches) == 1:
            ids[pos] = matches[0]
        elif not matches:
            result.errors[pos].append(f"Einen Treffpunkt namens „{name}“ gibt es nicht; "
                                      "importieren Sie ihn zuerst oder geben Sie meeting_place_id an.")
        else:
            result.errors[pos].append(f"Es gibt {len(matches)} Treffpunkte namens „{name}“ (Nr. "
                                      f"{', '.join(map(str, matches))}); geben Sie "
                                      "meeting_place_id an.")


def _delete_layer(cur: psycopg.Cursor, layer: Layer, who: _Who) -> int:
    """Delete the layer's features, each one's last state kept in the history (reversible)."""
    if layer.generic:
        delete = sql.SQL("DELETE FROM features WHERE layer = %(layer)s RETURNING *")
    else:
        delete = sql.SQL("DELETE FROM {} RETURNING *").format(sql.Identifier(layer.source_table))
    cur.execute(_with_history(delete, layer, "delete"),
                {"layer": layer.id, "actor": who.actor, "key": who.key_id})
    return max(cur.rowcount, 0)


def _with_history(statement: sql.Composable, layer: Layer, action: str) -> sql.Composed:
    """``statement`` (… RETURNING *) as a CTE feeding one history row per returned feature.

    The state is built as :class:`geo_service.queries.edit.StoredFeature` records it for
    single edits, from the rows as stored (after the BEFORE triggers that set a meeting place's
    quartier or an offer's position), so history looks the same whichever way a change came.
    """
    state = sql.SQL(  # identifiers in _all_properties come from the validated registry
        "jsonb_build_object('properties', " + _all_properties(layer, "c")
        + ", 'geometry', ST_AsGeoJSON(c.geom)::jsonb)")
    side = sql.SQL("before" if action == "delete" else "after")
    return sql.SQL(
        "WITH c AS ({statement}) "
        "INSERT INTO history (layer, feature_id, action, key_id, actor, {side}) "
        "SELECT %(layer)s, c.id, {action}, %(key)s, %(actor)s, {state} FROM c"
    ).format(statement=statement, side=side, action=sql.Literal(action), state=state)


def _writable(layer: Layer) -> list[Property]:
    return [p for p in layer.properties if not p.read_only]


def _copy_insert(cur: psycopg.Cursor, layer: Layer, result: FrameResult, who: _Who) -> int:
    """COPY rows into a temporary table, then one INSERT … SELECT in file order (with history)."""
    geometry = _ewkb_hex(result.geometry)
    if layer.generic:
        columns = [("properties", "jsonb")]
        rows: Iterator[Sequence[Any]] = zip(
            range(len(geometry)), _json_rows(layer, result), geometry)
    else:
        props = _writable(layer)
        columns = [(p.db_column, SQL_TYPES[p.type]) for p in props]
        rows = zip(range(len(geometry)), *(result.columns[p.name] for p in props), geometry)
    _create_temp(cur, columns)
    copy_sql = sql.SQL("COPY _import ({}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(n) for n in ["_ord", *(c for c, _ in columns), "geom"]))
    with cur.copy(copy_sql) as copy:
        # JSON and EWKB travel as text: the server parses them into jsonb and geometry.
        copy.set_types(["int8", *(_COPY_TYPES.get(t, t) for _, t in columns), "text"])
        for row in rows:
            copy.write_row(row)
    insert = _insert_sql(layer, [c for c, _ in columns]) + sql.SQL(" RETURNING *")
    cur.execute(_with_history(insert, layer, "import"),
                {"layer": layer.id, "actor": who.actor, "key": who.key_id})
    count = cur.rowcount
    cur.execute("DROP TABLE _import")
    return count


def _create_temp(cur: psycopg.Cursor, columns: list[tuple[str, str]]) -> None:
    defs = [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns]
    cur.execute(sql.SQL("CREATE TEMP TABLE _import (_ord int8, {}, geom geometry) "
                        "ON COMMIT DROP").format(sql.SQL(", ").join(defs)))


def _insert_sql(layer: Layer, columns: list[str]) -> sql.Composed:
    names = [sql.Identifier(c) for c in columns]
    if layer.generic:
        return sql.SQL(
            "INSERT INTO features (layer, properties, geom) "
            "SELECT %(layer)s, properties, geom FROM _import ORDER BY _ord")
    targets = [*names, sql.Identifier("geom")]
    values = [*names, sql.SQL("geom")]
    if layer.source_table == "offers":
        # An offer drawn as an area keeps it as its area; the trigger then places it there.
        targets.append(sql.Identifier("area"))
        values.append(sql.SQL("CASE WHEN ST_GeometryType(geom) IN ('ST_Polygon', "
                              "'ST_MultiPolygon') THEN ST_Multi(geom) END"))
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM _import ORDER BY _ord").format(
        sql.Identifier(layer.source_table), sql.SQL(", ").join(targets),
        sql.SQL(", ").join(values))


def _ewkb_hex(geoms: np.ndarray) -> list[str | None]:
    """Hex EWKB with SRID 4326, which PostGIS parses straight into ``geometry``."""
    with_srid = shapely.set_srid(geoms, 4326)
    return shapely.to_wkb(with_srid, hex=True, include_srid=True).tolist()


def _json_rows(layer: Layer, result: FrameResult) -> Iterator[str]:
    """Custom-layer properties as JSON objects; empty values are left out."""
    props = _writable(layer)
    columns = [result.columns[p.name] for p in props]
    names = [p.name for p in props]
    for values in zip(*columns):
        row = {n: v for n, v in zip(names, values) if v is not None}
        yield orjson.dumps(row).decode()
