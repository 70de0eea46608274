"""Uploads from the attacker's side, against the running service: files that name other files or
addresses are refused with 400 naming what they are, and the server reads and fetches nothing.

Each hostile file is built so that GDAL, opening it by content, would really have read the
database password or /etc/passwd, or fetched the local listener's address (the test proves that
first, in this process, for the VRT). Over HTTP the listener must see no request, and neither
the password nor a line of /etc/passwd may appear in any answer.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest

from geo_service.auth import create_key
from tests.conftest import make_settings
from tests.io.files import playgrounds, write, zip_shapefile
from tests.utils.builders import count
from tests.utils.db import TestCluster
from tests.utils.listener import Listener
from tests.utils.server import LiveServer

PATH = "/collections/spielplaetze/import"
PASSWD_LINE = Path("/etc/passwd").read_text().splitlines()[0]  # root:x:0:0:...
POINT = {"type": "Feature", "properties": {"name": "Spielplatz"},
         "geometry": {"type": "Point", "coordinates": [10.5493, 52.4766]}}


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    with Listener() as live:
        yield live


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[LiveServer]:
    with LiveServer(make_settings(module_db_url)) as live:
        yield live


@pytest.fixture(scope="module")
def headers(module_db_url: str) -> dict[str, str]:
    key = create_key(module_db_url, role="admin", layers=[], districts=[], organisation=None,
                     label="angreifer")
    return {"Authorization": f"Bearer {key.token}"}


def _vrt(source: str, layer: str) -> str:
    """A VRT layer over ``source``; points from its lon/lat columns where it has them (the
    listener's CSV), a plain table otherwise (a password file or /etc/passwd)."""
    points = ('<GeometryType>wkbPoint</GeometryType>'
              '<GeometryField encoding="PointFromColumns" x="lon" y="lat"/>'
              if source.startswith("/vsicurl/") else "")
    return (f'<OGRVRTDataSource><OGRVRTLayer name="{layer}"><SrcDataSource>{source}'
            f'</SrcDataSource>{points}</OGRVRTLayer></OGRVRTDataSource>')


def _collection(**members: object) -> str:
    return json.dumps({"type": "FeatureCollection", **members, "features": [POINT]})


def hostile_files(listener: Listener, secrets: Path) -> dict[str, tuple[str, bytes, str]]:
    """name -> (upload file name, body, what the refusal must name)."""
    url = listener.url
    gdalg = {"type": "gdal_streamed_alg",
             "command_line": f"gdal vector pipeline ! read /vsicurl/{url}/gdalg.csv ! "
                             "write --of stream streamed_dataset"}
    return {
        "vrt-passwd": ("treffs.geojson", _vrt("CSV:/etc/passwd", "passwd").encode(), "VRT"),
        "vrt-password": ("treffs.geojson", _vrt(f"CSV:{secrets}", secrets.stem).encode(), "VRT"),
        "vrt-vsicurl": ("treffs.geojson", _vrt(f"/vsicurl/{url}/vrt.csv", "vrt").encode(),
                        "VRT"),
        "vrt-as-json": ("treffs.json", _vrt(f"/vsicurl/{url}/json.csv", "json").encode(), "VRT"),
        "gdalg": ("treffs.geojson", json.dumps(gdalg).encode(), "GDALG"),
        "crs-link": ("treffs.geojson", _collection(crs={
            "type": "link", "properties": {"href": f"{url}/crs.wkt", "type": "ogcwkt"}}).encode(),
            "crs"),
        "crs-url-escaped": ("treffs.geojson", _collection(crs={
            "type": "URL", "properties": {"url": f"{url}/crs2.wkt"}}).replace(
            '"crs"', '"\\u0063RS"').encode(), "crs"),
        "crs-in-geometry": ("treffs.geojson", json.dumps({"type": "FeatureCollection", "features": [
            {**POINT, "geometry": {**POINT["geometry"], "crs": {  # type: ignore[dict-item]
                "type": "link", "properties": {"href": f"{url}/geometry.wkt"}}}}]}).encode(),
            "crs"),
        "csv-as-geojson": ("treffs.geojson", f"CSV:/etc/passwd\n{url}/x\n".encode(),
                           "keine JSON-Datei"),
        "gpkg-as-geojson": ("treffs.geojson", b"SQLite format 3\x00" + b"\x00" * 200,
                            "SQLite"),
    }


def _answers_without_secrets(text: str, password: str) -> None:
    assert PASSWD_LINE not in text and "root:x:0:0" not in text
    assert password not in text
    assert "VOM_LISTENER_GELESEN" not in text


@pytest.mark.filterwarnings("ignore:Unknown type:RuntimeWarning")
def test_vrt_really_reads_the_password_when_gdal_picks_the_driver(
        listener: Listener, pg_cluster: TestCluster, tmp_path: Path) -> None:
    """The premise: opened by content, the VRT upload reads the password and fetches URLs."""
    secrets = pg_cluster.cluster.password_file
    vrt = tmp_path / "treffs.geojson"
    vrt.write_text(_vrt(f"CSV:{secrets}", secrets.stem))
    leaked = pyogrio.read_dataframe(vrt, read_geometry=False)
    assert secrets.read_text().strip() in " ".join(map(str, leaked.columns))
    before = len(listener.requests)
    vrt.write_text(_vrt(f"/vsicurl/{listener.url}/premise.csv", "premise"))
    pyogrio.read_dataframe(vrt)
    assert len(listener.requests) > before


def test_hostile_uploads_get_400_naming_the_format_and_read_nothing(
        server: LiveServer, listener: Listener, headers: dict[str, str], module_db_url: str,
        pg_cluster: TestCluster) -> None:
    secrets = pg_cluster.cluster.password_file
    password = secrets.read_text().strip()
    before = count(module_db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")
    listener.requests.clear()
    for case, (filename, body, named) in hostile_files(listener, secrets).items():
        response = server.client.post(PATH, params={"filename": filename}, content=body,
                                      headers=headers)
        assert response.status_code == 400, (case, response.text)
        doc = response.json()
        assert named in doc["detail"], (case, doc["detail"])
        assert doc["detail"].startswith("Die Datei treffs."), (case, doc["detail"])
        _answers_without_secrets(response.text, password)
    assert listener.requests == []
    after = count(module_db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")
    assert after == before


def _zip(members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def test_hostile_zips_are_refused_member_by_member(
        server: LiveServer, listener: Listener, headers: dict[str, str], tmp_path: Path,
        pg_cluster: TestCluster) -> None:
    shp = zip_shapefile(playgrounds(1), tmp_path / "shp", "spiel", "utf-8")
    parts = {info.filename: zipfile.ZipFile(shp).read(info) for info in zipfile.ZipFile(shp).infolist()}
    vrt = _vrt(f"/vsicurl/{listener.url}/zip.csv", "zip").encode()
    cases = {
        "traversal": ({**parts, "../../etc/cron.d/evil": b"* * * * * root id"}, (), "unsicheren Pfad"),
        "absolute": ({**parts, "/etc/evil.dbf": b"x"}, (), "unsicheren Pfad"),
        "symlink": ({**parts, "spiel.prj": b"/etc/passwd"}, ("spiel.prj",), "symbolischen Link"),
        "nested": ({"inner.zip": shp.read_bytes()}, (), "weiteres Archiv"),
        "vrt-only": ({"spiel.vrt": vrt, "spiel.geojson": vrt}, (), "kein Shapefile"),
        "vrt-as-shp": ({"spiel.shp": vrt, "spiel.dbf": b"", "spiel.shx": b""}, (), "VRT"),
    }
    listener.requests.clear()
    for case, (members, links, named) in cases.items():
        response = server.client.post(PATH, params={"filename": "spiel.zip"},
                                      content=_zip(members, links=links), headers=headers)
        assert response.status_code == 400, (case, response.text)
        assert named in response.json()["detail"], (case, response.json()["detail"])
        _answers_without_secrets(response.text, pg_cluster.cluster.password_file.read_text())
    assert listener.requests == []
    assert not Path("/etc/cron.d/evil").exists()


def test_declared_format_must_match_the_suffix(server: LiveServer, headers: dict[str, str],
                                               tmp_path: Path) -> None:
    body = write(playgrounds(1), tmp_path / "ok.geojson").read_bytes()
    wrong = server.client.post(PATH, params={"filename": "ok.geojson"}, content=body,
                               headers={**headers, "Content-Type": "application/zip"})
    assert wrong.status_code == 400 and "gezipptes Shapefile" in wrong.json()["detail"]
    neutral = server.client.post(PATH, params={"filename": "ok.geojson", "dry_run": "true"},
                                 content=body,
                                 headers={**headers, "Content-Type": "application/octet-stream"})
    assert neutral.status_code == 200, neutral.text
    # A CRS given as text reaches no file: only EPSG codes are taken.
    odd = server.client.post(PATH, params={"filename": "ok.geojson", "crs": "+init=/etc/passwd:x"},
                             content=body, headers=headers)
    assert odd.status_code == 400 and "EPSG-Code" in odd.json()["detail"]


def test_geopackage_with_views_is_refused(server: LiveServer, headers: dict[str, str],
                                          tmp_path: Path, listener: Listener) -> None:
    import sqlite3

    path = write(playgrounds(1), tmp_path / "sicht.gpkg", layer="t")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW v AS SELECT fid, geom, gdal_get_pixel_value("
                     f"'/vsicurl/{listener.url}/pixel', 1, 'pixel', 0, 0) AS name FROM t")
        conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                     "VALUES ('v', 'features', 'v', 4326)")
        conn.execute("INSERT INTO gpkg_geometry_columns VALUES ('v', 'geom', 'POINT', 4326, 0, 0)")
    conn.close()
    listener.requests.clear()
    response = server.client.post(PATH, params={"filename": "sicht.gpkg", "file_layer": "v"},
                                  content=path.read_bytes(), headers=headers)
    assert response.status_code == 400
    assert "Sichten" in response.json()["detail"] and "»v«" in response.json()["detail"]
    assert listener.requests == []
