"""Bulk import over HTTP against the live server: grants, formats, all or nothing, history,
limits."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import shapely

from geo_service.auth import create_key
from tests.conftest import make_settings
from tests.io.files import GIFHORN, frame, playgrounds, write, zip_shapefile
from tests.utils.builders import count
from tests.utils.server import LiveServer

PATH = "/collections/spielplaetze/import"


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[LiveServer]:
    """One server for the module (tests compare counts before and after, never absolute ones),
    with a 1 MB upload limit so the limit test needs no large body. Its imports are answered
    with their report (the module checks reports; tests/api/test_import_jobs.py checks jobs),
    however slow the first job process starts on a loaded machine."""
    with LiveServer(make_settings(module_db_url, max_upload_mb=1, import_wait_s=60)) as live:
        yield live


@pytest.fixture
def db_url(module_db_url: str) -> str:
    return module_db_url


def _key(db_url: str, role: str = "editor", layers: tuple[str, ...] = ("spielplaetze",),
         **kw: object) -> dict[str, str]:
    key = create_key(db_url, role=role, layers=list(layers),
                     districts=list(kw.get("districts", [])),  # type: ignore[call-overload]
                     organisation=kw.get("organisation"), label="bulk")  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key.token}"}


def _playgrounds(db_url: str) -> int:
    return count(db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")


def _geojson(tmp_path: Path, n: int = 3, prefix: str = "Spielplatz") -> bytes:
    data = playgrounds(n)
    data["name"] = [f"{prefix} {i}" for i in range(n)]
    return write(data, tmp_path / "s.geojson").read_bytes()


def test_grants_decide_who_may_import(server: LiveServer, db_url: str, tmp_path: Path) -> None:
    c = server.client
    body = _geojson(tmp_path)
    before = _playgrounds(db_url)
    params = {"filename": "s.geojson"}
    assert c.post(PATH, params=params, content=body).status_code == 401
    other = c.post(PATH, params=params, content=body, headers=_key(db_url, layers=("offers",)))
    assert other.status_code == 403 and "spielplaetze" in other.json()["detail"]
    for narrowed in (_key(db_url, districts=["Landkreis Gifhorn"]),
                     _key(db_url, organisation="Stadt Gifhorn")):
        response = c.post(PATH, params=params, content=body, headers=narrowed)
        assert response.status_code == 403
        assert "districts or to one organisation" in response.json()["detail"]
    assert _playgrounds(db_url) == before
    admin = c.post(PATH, params=params, content=body, headers=_key(db_url, role="admin", layers=()),
                   )
    assert admin.status_code == 200, admin.text
    assert _playgrounds(db_url) == before + 3


def test_import_reports_and_records_history(server: LiveServer, db_url: str,
                                            tmp_path: Path) -> None:
    c = server.client
    headers = {**_key(db_url), "Content-Type": "application/geo+json"}
    before = _playgrounds(db_url)
    response = c.post(PATH, params={"filename": "neu.geojson"},
                      content=_geojson(tmp_path, 4, "Historie"), headers=headers)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert (doc["imported"], doc["total"], doc["dry_run"]) == (4, 4, False)
    assert doc["source"] == "neu.geojson"
    assert "4 Objekte gespeichert" in doc["summary"]
    assert _playgrounds(db_url) == before + 4
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT h.actor, h.key_id, h.after, h.before FROM history h JOIN features f "
            "ON f.id = h.feature_id AND f.layer = h.layer WHERE h.action = 'import' "
            "AND f.properties->>'name' = 'Historie 2'").fetchall()
    assert len(rows) == 1
    actor, key_id, after, previous = rows[0]
    assert actor.startswith("key:") and actor.endswith("(bulk)") and key_id is not None
    assert previous is None
    assert after["properties"] == {"name": "Historie 2", "age_group": "alle"}
    assert after["geometry"]["type"] == "Point"
    # The history endpoint shows it, as for single edits.
    with psycopg.connect(db_url) as conn:
        fid = conn.execute("SELECT id FROM features WHERE layer = 'spielplaetze' AND "
                           "properties->>'name' = 'Historie 2'").fetchone()[0]  # type: ignore
    versions = c.get(f"/collections/spielplaetze/items/{fid}/history", headers=headers).json()
    assert [v["action"] for v in versions["versions"]] == ["import"]


def test_dry_run_and_replace(server: LiveServer, db_url: str, tmp_path: Path) -> None:
    c = server.client
    headers = _key(db_url)
    c.post(PATH, params={"filename": "a.geojson"}, content=_geojson(tmp_path, 2), headers=headers)
    before = _playgrounds(db_url)
    dry = c.post(PATH, params={"filename": "b.geojson", "dry_run": "true", "replace": "true"},
                 content=_geojson(tmp_path, 5), headers=headers)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert dry.json()["imported"] == 5 and dry.json()["replaced"] == before
    assert _playgrounds(db_url) == before
    deleted = count(db_url, "SELECT count(*) FROM history WHERE action = 'delete'")
    real = c.post(PATH, params={"filename": "b.geojson", "replace": "true"},
                  content=_geojson(tmp_path, 5), headers=headers)
    assert real.status_code == 200 and real.json()["replaced"] == before
    assert _playgrounds(db_url) == 5
    # Replaced features keep their last state in the history (an admin can restore them).
    assert count(db_url, "SELECT count(*) FROM history WHERE layer = 'spielplaetze' "
                         "AND action = 'delete' AND before IS NOT NULL") == deleted + before


def test_one_bad_feature_rejects_the_file_with_every_reason(server: LiveServer, db_url: str,
                                                            tmp_path: Path) -> None:
    data = playgrounds(5)
    data.loc[1, "name"] = "Kaputt"
    data.loc[1, "website"] = "javascript:alert(1)"
    data.loc[3, "age_group"] = "99+"
    data.loc[4, "geometry"] = shapely.Point(-47.9, -15.8)  # Brasília
    before = _playgrounds(db_url)
    history = count(db_url, "SELECT count(*) FROM history")
    response = server.client.post(PATH, params={"filename": "bad.geojson"},
                                  content=write(data, tmp_path / "bad.geojson").read_bytes(),
                                  headers=_key(db_url))
    assert response.status_code == 400
    doc = response.json()
    assert doc["code"] == "InvalidData" and "nichts wurde gespeichert" in doc["description"]
    assert [r["number"] for r in doc["rejected"]] == [2, 4, 5]
    assert doc["rejected"][0]["name"] == "Kaputt" and "javascript:" in doc["rejected"][0]["reason"]
    assert "99+" in doc["rejected"][1]["reason"]
    assert all(r["unit"] == "Objekt" for r in doc["rejected"])
    assert _playgrounds(db_url) == before
    assert count(db_url, "SELECT count(*) FROM history") == history


def test_csv_and_zipped_shapefile(server: LiveServer, db_url: str, tmp_path: Path) -> None:
    c = server.client
    headers = _key(db_url)
    csv = "name;age_group;lon;lat\nCSV-Spielplatz;0-6;10,5493;52,4766\n".encode()
    response = c.post(PATH, params={"filename": "liste.csv"}, content=csv,
                      headers={**headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 1
    shp = zip_shapefile(frame([{"name": "Shape-Spielplatz"}], [shapely.Point(*GIFHORN)]),
                        tmp_path, "spiel", "cp1252")
    response = c.post(PATH, params={"filename": "spiel.zip"}, content=shp.read_bytes(),
                      headers={**headers, "Content-Type": "application/zip"})
    assert response.status_code == 200, response.text
    assert count(db_url, "SELECT count(*) FROM features WHERE properties->>'name' IN "
                         "('CSV-Spielplatz', 'Shape-Spielplatz')") == 2


def test_unusable_requests_are_4xx(server: LiveServer, db_url: str, tmp_path: Path) -> None:
    c = server.client
    headers = _key(db_url)
    before = _playgrounds(db_url)
    cases = [
        ({"filename": "s.exe"}, b"MZ", {}, 400),
        ({}, _geojson(tmp_path), {}, 400),  # no filename
        ({"filename": "s.geojson"}, b"", {}, 400),
        ({"filename": "s.geojson"}, b"{not json", {}, 400),
        ({"filename": "s.geojson", "crs": "EPSG:nonsense"}, _geojson(tmp_path), {}, 400),
        ({"filename": "s.geojson"}, b"--x\r\n",
         {"Content-Type": "multipart/form-data; boundary=x"}, 415),
        ({"filename": "s.gpkg"}, b"SQLite format 3\x00" + b"\x00" * 100, {}, 400),
    ]
    for params, body, extra, status in cases:
        response = c.post(PATH, params=params, content=body, headers={**headers, **extra})
        assert response.status_code == status, (params, response.text)
        assert response.json()["detail"]
    assert c.post("/collections/nope/import", params={"filename": "s.geojson"},
                  content=_geojson(tmp_path), headers=headers).status_code == 404
    assert _playgrounds(db_url) == before


def _raw_post(live: LiveServer, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, bytes]:
    """A chunked POST without Content-Length, written by hand (httpx always sends a length
    for bytes): the server must stop reading past the limit."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        head = (f"POST {PATH}?filename=big.geojson HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Transfer-Encoding: chunked\r\nContent-Type: application/geo+json\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head_part, body = answer.split(b"\r\n\r\n", 1)
        found = re.search(rb"(?i)content-length: *(\d+)", head_part)
        assert found is not None
        length = int(found.group(1))
        while len(body) < length:
            body += sock.recv(65536)
    return int(head_part.split(b" ", 2)[1]), body


def test_uploads_over_the_limit_are_413(server: LiveServer, db_url: str) -> None:
    live = server
    headers = _key(db_url)
    before = _playgrounds(db_url)
    big = b" " * 1_200_000 + json.dumps({"type": "FeatureCollection", "features": []}).encode()
    # With a Content-Length: refused before reading.
    response = live.client.post(PATH, params={"filename": "big.geojson"}, content=big,
                                headers=headers)
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"
    # Chunked, no Content-Length: refused while reading.
    chunks = [big[i:i + 100_000] for i in range(0, len(big), 100_000)]
    status, body = _raw_post(live, headers, chunks)
    assert status == 413, body
    assert b"PayloadTooLarge" in body
    assert _playgrounds(db_url) == before
