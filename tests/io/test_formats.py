"""The import allow-list from inside: GDAL narrowed to one driver, content checks, safe unpacking,
bounded reports. (The attacker's view is tests/api/test_upload_attacks.py.)"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyogrio
import pytest

from geo_service.io.archive import unpack_shapefiles
from geo_service.io.formats import GEOJSON, ImportError_, ImportTooLarge, check_content, format_of
from geo_service.io.gdal import only_driver
from geo_service.io.importer import ImportReport, Rejected, reason_kind
from geo_service.io.reader import read_path
from tests.io.files import playgrounds, write, zip_bomb, zip_shapefile


def test_gdal_has_one_driver_while_reading_and_all_afterwards(tmp_path: Path) -> None:
    everything = set(pyogrio.list_drivers())
    assert {"OGR_VRT", "GDALG", "CSV", "GeoJSON", "GPKG"} <= everything
    vrt = tmp_path / "x.geojson"
    vrt.write_text('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>CSV:/etc/passwd'
                   "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>")
    with only_driver("GeoJSON"):
        assert set(pyogrio.list_drivers()) == {"GeoJSON"}
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_ALLOW_EXTERNAL_ACCESS") == "NO"
        with pytest.raises(pyogrio.errors.DataSourceError, match="not recognized"):
            pyogrio.read_dataframe(vrt)
    assert set(pyogrio.list_drivers()) == everything
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_ALLOW_EXTERNAL_ACCESS") is None
    # Exports after an import still find their drivers.
    write(playgrounds(1), tmp_path / "danach.gpkg")


def test_suffix_decides_the_format() -> None:
    assert format_of("Treffs.GeoJSON") is GEOJSON
    with pytest.raises(ImportError_, match="gezippt hochgeladen"):
        format_of("s.shp", upload=True)
    assert format_of("s.shp").driver == "ESRI Shapefile"


@pytest.mark.parametrize("crs", [
    {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}},
    {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    {"type": "name", "properties": {"name": "EPSG:4326"}},
    {"type": "EPSG", "properties": {"code": 4326}},
    None,
])
def test_crs_names_as_qgis_and_gdal_write_them_pass(tmp_path: Path, crs: object) -> None:
    path = tmp_path / "ok.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs, "features": [],
                                "name": "crs"}))
    check_content(path, GEOJSON)


@pytest.mark.parametrize("member", [
    '"crs": {"type": "link", "properties": {"href": "http://x/"}}',
    '"CRS": {"type": "name", "properties": {"name": "/etc/passwd"}}',
    '"\\u0063rs": {"type": "url", "properties": {"url": "http://x/"}}',
    '"crs" /* c */ : {"type": "link", "properties": {"href": "http://x/"}}',
    "'crs': {'type': 'name', 'properties': {'name': 'EPSG:4326'}}",
    '"crs": {"type": "name", "properties": {"name": "EPSG:4326"}, "TYPE": "link"}',
])
def test_crs_members_that_point_somewhere_are_refused(tmp_path: Path, member: str) -> None:
    path = tmp_path / "link.geojson"
    path.write_text('{"type": "FeatureCollection", ' + member + ', "features": []}')
    with pytest.raises(ImportError_, match="crs"):
        check_content(path, GEOJSON)


def test_unpacking_takes_only_shapefile_parts_and_counts_bytes(tmp_path: Path) -> None:
    archive = zip_shapefile(playgrounds(2), tmp_path / "shp", "spiel", "utf-8")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("doku/liesmich.txt", "Hallo")
        zf.writestr("spiel.shp.xml", "<metadata/>")
    folder = tmp_path / "aus"
    folder.mkdir()
    shapefiles, skipped = unpack_shapefiles(archive, folder, max_unpacked_mb=1)
    assert [p.name for p in shapefiles] == ["spiel.shp"]
    assert sorted(skipped) == ["liesmich.txt", "spiel.shp.xml"]
    assert sorted(p.suffix for p in folder.iterdir()) == [".cpg", ".dbf", ".prj", ".shp", ".shx"]
    data = read_path(archive)
    assert len(data.frame) == 2 and any("liesmich.txt" in w for w in data.warnings)
    lying = zip_bomb(tmp_path / "luege.zip", unpacked_mb=50, declared_mb=1)
    other = tmp_path / "aus2"
    other.mkdir()
    with pytest.raises(ImportError_):  # stops at the declared size: a CRC error, nothing more
        unpack_shapefiles(lying, other, max_unpacked_mb=2)
    assert sum(p.stat().st_size for p in other.iterdir()) <= 2 * 1_000_000
    with pytest.raises(ImportTooLarge, match="entpackt größer"):
        unpack_shapefiles(zip_bomb(tmp_path / "b.zip", unpacked_mb=5), tmp_path / "aus3",
                          max_unpacked_mb=2)


def test_report_lists_up_to_its_limit_and_counts_the_rest() -> None:
    report = ImportReport(layer="spielplaetze", source="f.csv", unit="Zeile", total=10,
                          listed_limit=3)
    for line in range(2, 12):
        sentence = f"»age_group« hat den unbekannten Wert „{line}+“."
        report.reject(Rejected(line, None, sentence), [sentence])
    assert not report.ok and len(report.rejected) == 3 and report.unlisted == 7
    assert report.reasons == {reason_kind("»age_group« hat den unbekannten Wert „2+“."): 10}
    summary = report.summary()
    assert "10 von 10 Objekten abgelehnt" in summary
    assert "… und 7 weitere abgelehnte Objekte" in summary and "10 × »age_group«" in summary
    doc = report.to_json()
    assert doc["rejected_count"] == 10 and len(doc["rejected"]) == 3  # type: ignore[arg-type]
