"""Reading files: formats, encodings, CRSs, and a clear German error for every unusable file."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geo_service.errors import InvalidData
from geo_service.io.reader import ImportError_, read_path
from tests.io.files import GIFHORN, frame, playgrounds, write, zip_shapefile

TO_UTM = Transformer.from_crs(4326, 25832, always_xy=True)


def error_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(ImportError_) as info:
        read_path(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_import_error_maps_to_http_400() -> None:
    assert issubclass(ImportError_, InvalidData) and ImportError_.status == 400


def test_missing_file(tmp_path: Path) -> None:
    assert "gibt es nicht" in error_of(tmp_path / "nichts.geojson")


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "leer.geojson"
    empty.write_bytes(b"")
    assert "ist leer" in error_of(empty)
    no_features = write(playgrounds(0), tmp_path / "keine.geojson")
    assert "enthält keine Objekte" in error_of(no_features)
    header_only = tmp_path / "kopf.csv"
    header_only.write_text("name;lon;lat\n", encoding="utf-8")
    assert "keine Objekte" in error_of(header_only)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip", ".csv"])
def test_garbage_bytes_are_a_broken_file(tmp_path: Path, suffix: str) -> None:
    broken = tmp_path / f"kaputt{suffix}"
    broken.write_bytes(bytes(range(256)) * 8)
    message = error_of(broken)
    assert message.startswith("Die Datei kaputt") or "nicht lesbar" in message
    assert "\n" not in message


def test_non_spatial_files(tmp_path: Path) -> None:
    table = tmp_path / "tabelle.csv"
    table.write_text("name;ort\nTreff;Gifhorn\n", encoding="utf-8")
    assert "keine Koordinatenspalten" in error_of(table)
    gpkg = tmp_path / "attribute.gpkg"
    import pyogrio

    pyogrio.write_dataframe(pd.DataFrame({"name": ["Treff"]}), gpkg, layer="nur_tabelle")
    assert "keine Geometrien" in error_of(gpkg)


def test_unknown_format_size_limit_and_crs(tmp_path: Path) -> None:
    doc = tmp_path / "liste.xlsx"
    doc.write_bytes(b"PK")
    assert "wird nicht unterstützt" in error_of(doc)
    big = write(playgrounds(50), tmp_path / "gross.geojson")
    assert "erlaubt sind höchstens" in error_of(big, max_upload_mb=0.001)
    assert "»EPSG:99999« ist unbekannt" in error_of(big, crs="EPSG:99999")


def test_csv_xy_in_utm_needs_a_crs(tmp_path: Path) -> None:
    x, y = TO_UTM.transform(*GIFHORN)
    csv = tmp_path / "utm.csv"
    csv.write_text(f"name;x;y\nTreff;{x:.2f};{y:.2f}\n".replace(".", ","), encoding="utf-8")
    assert "--crs" in error_of(csv)
    data = read_path(csv, crs="EPSG:25832")
    point = data.frame.geometry.iloc[0]
    assert point.x == pytest.approx(GIFHORN[0], abs=1e-6)
    assert point.y == pytest.approx(GIFHORN[1], abs=1e-6)


def test_geojson_with_utm_coordinates_but_no_crs_member(tmp_path: Path) -> None:
    x, y = TO_UTM.transform(*GIFHORN)
    path = tmp_path / "utm.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                    f'"properties": {{"name": "A"}}, "geometry": {{"type": "Point", '
                    f'"coordinates": [{x}, {y}]}}}}]}}', encoding="utf-8")
    assert "--crs" in error_of(path)
    assert read_path(path, crs="EPSG:25832").frame.geometry.iloc[0].x == pytest.approx(
        GIFHORN[0], abs=1e-6)


@pytest.mark.parametrize(("encoding", "prefix"), [("cp1252", b""), ("utf-8", codecs.BOM_UTF8)])
def test_german_spreadsheet_csv(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    text = ("Name;Längengrad;LAT;Träger\n"
            "Spielplatz Müllerstraße;10,5493;52,4766;Stadt Gifhorn\n"
            "Bolzplatz Ölmühle;10,5501;52,4770;Bürgerverein\n").replace("Längengrad", "Lon")
    path = tmp_path / "spielplaetze.csv"
    path.write_bytes(prefix + text.encode(encoding))
    data = read_path(path)
    assert list(data.frame["Name"]) == ["Spielplatz Müllerstraße", "Bolzplatz Ölmühle"]
    assert data.frame.geometry.iloc[0].equals_exact(shapely.Point(10.5493, 52.4766), 1e-9)
    assert list(data.frame.index) == [2, 3]  # line numbers as the spreadsheet shows them
    assert "Lon" not in data.frame.columns and "LAT" not in data.frame.columns


def test_csv_rows_without_coordinates_are_row_errors(tmp_path: Path) -> None:
    path = tmp_path / "luecke.csv"
    path.write_text("name,lng,latitude\nA,10.5,52.4\nB,,52.4\nC,zehn,52.4\n", encoding="utf-8")
    data = read_path(path)
    assert set(data.row_errors) == {3, 4}
    assert "Koordinaten fehlen" in data.row_errors[4]


def test_zipped_shapefile_honours_its_cpg(tmp_path: Path) -> None:
    data = frame([{"name": "Spielplatz Große Wiese", "operator": "Gemeinde Süd"}],
                 [shapely.Point(*GIFHORN)])
    archive = zip_shapefile(data, tmp_path / "shp", "spielplaetze", "cp1252")
    with open(tmp_path / "shp" / "spielplaetze.cpg") as cpg:
        assert cpg.read().strip().upper() in ("CP1252", "1252", "WINDOWS-1252")
    # The .dbf really holds cp1252 bytes, not UTF-8.
    dbf = (tmp_path / "shp" / "spielplaetze.dbf").read_bytes()
    assert "Große".encode("cp1252") in dbf and "Große".encode("utf-8") not in dbf
    read = read_path(archive)
    assert read.frame["name"].iloc[0] == "Spielplatz Große Wiese"
    assert read.frame["operator"].iloc[0] == "Gemeinde Süd"


def test_geopackage_layers_must_be_chosen(tmp_path: Path) -> None:
    path = tmp_path / "zwei.gpkg"
    write(playgrounds(2), path, layer="a")
    write(playgrounds(3), path, layer="b")
    assert "--file-layer" in error_of(path)
    assert len(read_path(path, file_layer="b").frame) == 3
    assert "keinen Layer »c«" in error_of(path, file_layer="c")
