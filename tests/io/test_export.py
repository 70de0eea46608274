"""Exporting layers: formats and CRSs round-trip the coordinates; personal data never leaves."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
import shapely
from pyproj import Transformer

from geo_service.io.exporter import ExportError, export_path
from geo_service.io.importer import import_path
from geo_service.settings import Settings
from tests.io.files import frame, registry, write

TO_UTM = Transformer.from_crs(4326, 25832, always_xy=True)
POINT = (10.549312, 52.476645)


@pytest.fixture
def place(db_url: str, settings: Settings, tmp_path: Path) -> str:
    """A meeting place with a contact person (personal) at a known position."""
    data = frame([{"name": "Export-Treff", "kind": "Café", "contact_person": "Erika Mustermann",
                   "languages": ["de", "tr"]}], [shapely.Point(*POINT)])
    report = import_path(db_url, registry(), "meeting_places", write(data, tmp_path / "in.geojson"),
                         settings=settings)
    assert report.ok, report.summary()
    return "Export-Treff"


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv"])
@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:25832"])
def test_round_trip(db_url: str, place: str, tmp_path: Path, suffix: str, crs: str) -> None:
    path = tmp_path / f"treffpunkte{suffix}"
    count = export_path(db_url, registry(), "meeting_places", path, crs=crs)
    with psycopg.connect(db_url) as conn:
        assert count == conn.execute("SELECT count(*) FROM meeting_places").fetchone()[0]  # type: ignore[index]
    if suffix == ".csv":
        table = pd.read_csv(path)
        row = table[table["name"] == place].iloc[0]
        x, y = (row["lon"], row["lat"]) if crs == "EPSG:4326" else (row["x"], row["y"])
        assert row["languages"] == "de; tr"
        assert "contact_person" not in table.columns
    else:
        data = gpd.read_file(path)
        assert data.crs.to_epsg() == int(crs.split(":")[1])
        point = data[data["name"] == place].geometry.iloc[0]
        x, y = point.x, point.y
        assert "contact_person" not in data.columns
    expected = POINT if crs == "EPSG:4326" else TO_UTM.transform(*POINT)
    tolerance = 1e-7 if crs == "EPSG:4326" else 0.01  # 1 cm
    assert x == pytest.approx(expected[0], abs=tolerance)
    assert y == pytest.approx(expected[1], abs=tolerance)
    assert "Erika" not in path.read_bytes().decode("utf-8", errors="replace")


def test_exported_csv_of_polygons_imports_again(db_url: str, settings: Settings,
                                                tmp_path: Path) -> None:
    path = tmp_path / "quartiere.csv"
    count = export_path(db_url, registry(), "quartiers", path, crs="EPSG:25832")
    assert count > 0 and "wkt" in pd.read_csv(path).columns
    report = import_path(db_url, registry(), "quartiers", path, settings=settings,
                         crs="EPSG:25832", dry_run=True)
    assert report.ok and report.imported == count, report.summary()


def test_custom_layer_export(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "spielplaetze.geojson"
    count = export_path(db_url, registry(), "spielplaetze", path)
    data = gpd.read_file(path)
    assert len(data) == count > 0 and "name" in data.columns


@pytest.mark.parametrize(("layer_id", "name", "crs", "message"), [
    ("baeume", "x.geojson", "EPSG:4326", "»baeume« gibt es nicht"),
    ("spielplaetze", "x.kml", "EPSG:4326", "».kml« wird nicht unterstützt"),
    ("spielplaetze", "x.gpkg", "EPSG:99999", "»EPSG:99999« ist unbekannt"),
])
def test_export_errors(db_url: str, tmp_path: Path, layer_id: str, name: str, crs: str,
                       message: str) -> None:
    with pytest.raises(ExportError, match=message):
        export_path(db_url, registry(), layer_id, tmp_path / name, crs=crs)
