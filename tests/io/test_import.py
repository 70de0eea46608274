"""Importing into the real PostGIS: positions, all-or-nothing, reports, custom layers, offers."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import shapely
from pyproj import Geod, Transformer

from geo_service.io.importer import ImportError_, import_frame, import_path
from geo_service.settings import Settings
from tests.io.files import (
    GIFHORN, HILDESHEIM, frame, layer, playgrounds, registry, write, zip_shapefile,
)

GEOD = Geod(ellps="WGS84")
TO_WGS84 = Transformer.from_crs(25832, 4326, always_xy=True)


def count(url: str, table: str, layer_id: str | None = None) -> int:
    with psycopg.connect(url) as conn:
        if layer_id:
            return conn.execute("SELECT count(*) FROM features WHERE layer = %s",
                                [layer_id]).fetchone()[0]  # type: ignore[index]
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]


def run(url: str, settings: Settings, layer_id: str, path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return import_path(url, registry(), layer_id, path, settings=settings, **kwargs)  # type: ignore[arg-type]


def test_geopackage_in_utm32_lands_at_known_coordinates(db_url: str, settings: Settings,
                                                        tmp_path: Path) -> None:
    # Dannenbütteler Weg, Gifhorn, in ETRS89 / UTM zone 32N.
    east, north = 606121.18, 5815152.43
    data = frame([{"name": "Treff UTM", "kind": "Nachbarschaftstreff"}],
                 [shapely.Point(east, north)], crs="EPSG:25832")
    report = run(db_url, settings, "meeting_places", write(data, tmp_path / "utm.gpkg"))
    assert report.ok, report.summary()
    with psycopg.connect(db_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM meeting_places "
                                "WHERE name = 'Treff UTM'").fetchone()  # type: ignore[misc]
    expected_lon, expected_lat = TO_WGS84.transform(east, north)
    assert 10.5 < lon < 10.6 and 52.4 < lat < 52.5  # Gifhorn
    _, _, metres = GEOD.inv(lon, lat, expected_lon, expected_lat)
    assert metres < 0.5


def test_one_bad_feature_imports_nothing_and_is_named(db_url: str, settings: Settings,
                                                      tmp_path: Path) -> None:
    data = playgrounds(4)
    data.loc[2, "name"] = "Kaputter Spielplatz"
    data.loc[2, "website"] = "javascript:alert(1)"
    before = count(db_url, "features", "spielplaetze")
    report = run(db_url, settings, "spielplaetze", write(data, tmp_path / "s.geojson"))
    assert not report.ok and report.imported == 0
    assert report.rejected == [(3, "Kaputter Spielplatz",
                                "»website«: „javascript:alert(1)“ ist keine http- oder "
                                "https-Adresse.")]
    assert "Objekt 3 (»Kaputter Spielplatz«): »website«" in report.summary()
    assert "nichts wurde gespeichert" in report.summary()
    assert count(db_url, "features", "spielplaetze") == before


def test_custom_layer_goes_to_the_generic_table(db_url: str, settings: Settings,
                                                tmp_path: Path) -> None:
    before = count(db_url, "features", "spielplaetze")
    report = run(db_url, settings, "spielplaetze", write(playgrounds(3), tmp_path / "s.gpkg"))
    assert report.ok and report.imported == 3
    assert count(db_url, "features", "spielplaetze") == before + 3
    with psycopg.connect(db_url) as conn:
        props = conn.execute("SELECT properties FROM features WHERE layer = 'spielplaetze' "
                             "ORDER BY id DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
    assert props == {"name": "Spielplatz 2", "age_group": "alle"}


def test_replace_and_dry_run(db_url: str, settings: Settings, tmp_path: Path) -> None:
    path = write(playgrounds(2), tmp_path / "s.geojson")
    dry = run(db_url, settings, "spielplaetze", path, replace=True, dry_run=True)
    assert dry.ok and dry.dry_run and "nichts wurde gespeichert" in dry.summary()
    before = count(db_url, "features", "spielplaetze")
    assert before > 0  # the demo playgrounds, untouched by the dry run
    report = run(db_url, settings, "spielplaetze", path, replace=True)
    assert report.ok and report.replaced == before
    assert count(db_url, "features", "spielplaetze") == 2


def test_database_failure_rolls_back_everything(db_url: str, settings: Settings,
                                                tmp_path: Path) -> None:
    """A negative population passes validation but breaks a CHECK: nothing stays, not even the
    deletion of --replace."""
    x, y = HILDESHEIM
    rows = [{"name": f"Q{i}", "municipality": "Hildesheim", "district": "LK Hildesheim",
             "source": "Test", "licence": "CC0", "population": -5 if i == 1 else 100}
            for i in range(3)]
    squares = [shapely.box(x + i * 0.01, y, x + i * 0.01 + 0.005, y + 0.005) for i in range(3)]
    before = count(db_url, "quartiers")
    report = run(db_url, settings, "quartiers", write(frame(rows, squares), tmp_path / "q.geojson"),
                 replace=True)
    assert not report.ok and report.imported == 0 and report.replaced == 0
    assert report.rejected[0].number is None
    assert "Datenbank hat den Import abgelehnt" in report.rejected[0].reason
    assert count(db_url, "quartiers") == before > 0


def test_invalid_polygon_and_point_in_brazil(db_url: str, settings: Settings,
                                             tmp_path: Path) -> None:
    x, y = GIFHORN
    bowtie = shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)])
    data = frame([{"name": "Schleife"}, {"name": "Brasília"}, {"name": "Gut"}],
                 [bowtie, shapely.Point(-47.88, -15.79), shapely.box(x, y, x + 0.01, y + 0.01)])
    report = run(db_url, settings, "projects", write(data, tmp_path / "p.geojson"))
    reasons = {r.name: r.reason for r in report.rejected}
    assert set(reasons) == {"Schleife", "Brasília"}
    assert "Selbstüberschneidung bei Länge" in reasons["Schleife"]
    assert "Self-intersection[" in reasons["Schleife"]
    assert "außerhalb des Einsatzgebiets" in reasons["Brasília"]


def test_german_csv_into_a_core_layer(db_url: str, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "treffpunkte.csv"
    path.write_bytes(
        ("name;kind;Laenge;Breite;languages;wheelchair;last_checked;phone\n"
         "Begegnungsstätte Süd;Begegnungsstätte;9,9572;52,1617;de;ar;yes;19.08.2024;05121 / 1234\n")
        .replace("de;ar;yes", "de, ar;yes").encode("cp1252"))
    report = run(db_url, settings, "meeting_places", path)
    assert report.ok, report.summary()
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT languages, last_checked::text, ST_X(geom) FROM meeting_places "
                           "WHERE name = 'Begegnungsstätte Süd'").fetchone()
    assert row == (["de", "ar"], "2024-08-19", pytest.approx(9.9572))


def test_csv_report_names_line_numbers(db_url: str, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("name;lon;lat\nA;10,5;52,4\n;10,5;52,4\nC;;\n", encoding="utf-8")
    report = run(db_url, settings, "spielplaetze", path)
    assert [(r.number, r.reason.split(" ")[0]) for r in report.rejected] == [
        (3, "Pflichtfeld"), (4, "Die")]
    assert report.unit == "Zeile" and "Zeile 4" in report.summary()


def test_zipped_shapefile_with_cp1252(db_url: str, settings: Settings, tmp_path: Path) -> None:
    data = frame([{"name": "Spielplatz Große Wiese", "operator": "Gemeinde Süd"}],
                 [shapely.Point(*GIFHORN)])
    archive = zip_shapefile(data, tmp_path / "shp", "spiel", "cp1252")
    report = run(db_url, settings, "spielplaetze", archive)
    assert report.ok, report.summary()
    with psycopg.connect(db_url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT properties->>'operator' FROM features WHERE properties->>'name' = "
            "'Spielplatz Große Wiese'")]
    assert names == ["Gemeinde Süd"]


def test_offer_names_its_meeting_place(db_url: str, settings: Settings, tmp_path: Path) -> None:
    place = frame([{"name": "Treff Eindeutig", "kind": "Café"}], [shapely.Point(*GIFHORN)])
    assert run(db_url, settings, "meeting_places", write(place, tmp_path / "mp.geojson")).ok
    offers = frame([{"title": "Kaffeeklatsch", "category": "Kultur & Begegnung",
                     "meeting_place": "Treff Eindeutig"},
                    {"title": "Irgendwo", "category": "Beratung", "meeting_place": "Gibt es nicht"}],
                   [None, None])
    path = write(offers, tmp_path / "o.geojson")
    report = run(db_url, settings, "offers", path)
    assert [(r.number, r.name) for r in report.rejected] == [(2, "Irgendwo")]
    assert "„Gibt es nicht“ gibt es nicht" in report.rejected[0].reason
    report = import_frame(db_url, layer("offers"), offers.iloc[:1], settings=settings)
    assert report.ok, report.summary()
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT o.meeting_place, ST_Equals(o.geom, m.geom) FROM offers o "
                           "JOIN meeting_places m ON m.id = o.meeting_place_id "
                           "WHERE o.title = 'Kaffeeklatsch'").fetchone()
    assert row == ("Treff Eindeutig", True)


def test_unknown_layer_names_the_known_ones(db_url: str, settings: Settings,
                                            tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="»baeume« gibt es nicht; bekannt sind: .*spielplaetze"):
        run(db_url, settings, "baeume", write(playgrounds(1), tmp_path / "s.geojson"))
