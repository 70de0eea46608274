"""Writing through the API: keys and roles, optimistic concurrency, history, restore, privacy."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from geo_service.auth import create_key
from geo_service.cli import app as cli
from tests.conftest import make_settings
from tests.utils.builders import count
from tests.utils.server import LiveServer


def _key(db_url: str, role: str = "editor", layers: list[str] | None = None, **kw: object) -> dict[str, str]:
    key = create_key(db_url, role=role, layers=layers if layers is not None else ["meeting_places"],
                     districts=list(kw.get("districts", [])),  # type: ignore[arg-type]
                     organisation=kw.get("organisation"), label="test")  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key.token}"}


def _place(name: str = "Nachbarschaftstreff Test", lon: float = 10.5622, lat: float = 52.4765,
           **props: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": name, "kind": "Nachbarschaftstreff", "town": "Gifhorn", **props}}


@pytest.fixture
def editor(db_url: str) -> dict[str, str]:
    return _key(db_url)


def test_writes_need_a_key(server: LiveServer, db_url: str) -> None:
    c = server.client
    path = "/collections/meeting_places/items"
    before = count(db_url, "SELECT count(*) FROM meeting_places")
    for response in (
        c.post(path, json=_place()),
        c.put(f"{path}/1", json=_place()),
        c.patch(f"{path}/1", json={"properties": {"name": "x"}}),
        c.delete(f"{path}/1"),
        c.post(path, json=_place(), headers={"Authorization": "Bearer qk_nope_wrong"}),
        c.post(path, json=_place(), headers={"Authorization": "Basic dXNlcjpwYXNz"}),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == "Unauthorized"
    assert count(db_url, "SELECT count(*) FROM meeting_places") == before


def test_forbidden_outside_grants(server: LiveServer, db_url: str) -> None:
    c = server.client
    offers_only = _key(db_url, layers=["offers"])
    hildesheim = _key(db_url, districts=["Landkreis Hildesheim"])
    gwg = _key(db_url, organisation="Lebenshilfe Hildesheim e.V.")
    revoked = create_key(db_url, role="editor", layers=["meeting_places"], districts=[],
                         organisation=None, label=None)
    with psycopg.connect(db_url) as conn:
        gifhorn_id = conn.execute("SELECT id FROM meeting_places WHERE name LIKE 'GWG-Treff%'").fetchone()[0]
    assert c.post("/collections/meeting_places/items", json=_place(), headers=offers_only).status_code == 403
    # Gifhorn lies in Landkreis Gifhorn, not Hildesheim: neither creating nor changing there.
    assert c.post("/collections/meeting_places/items", json=_place(), headers=hildesheim).status_code == 403
    patch = {"properties": {"description": "geändert"}}
    assert c.patch(f"/collections/meeting_places/items/{gifhorn_id}", json=patch,
                   headers=hildesheim).status_code == 403
    # Bound to another organisation than the record's operator.
    assert c.patch(f"/collections/meeting_places/items/{gifhorn_id}", json=patch,
                   headers=gwg).status_code == 403
    runner = CliRunner()
    env = {"GEO_SERVICE_DATABASE_URL": db_url}
    assert runner.invoke(cli, ["keys", "revoke", revoked.prefix], env=env).exit_code == 0
    response = c.post("/collections/meeting_places/items", json=_place(),
                      headers={"Authorization": f"Bearer {revoked.token}"})
    assert response.status_code == 401
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT description FROM meeting_places WHERE id = %s",
                            (gifhorn_id,)).fetchone()[0] != "geändert"


def test_create_edit_conflict_history_delete_restore(server: LiveServer, db_url: str,
                                                     editor: dict[str, str]) -> None:
    c = server.client
    created = c.post("/collections/meeting_places/items", json=_place(), headers=editor)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    etag = created.headers["etag"]
    assert created.headers["location"].endswith(f"/collections/meeting_places/items/{fid}")
    read = c.get(f"/collections/meeting_places/items/{fid}")
    assert read.headers["etag"] == etag
    assert read.json()["properties"]["quartier"] == "Handwerkerviertel/Blumenviertel"

    first = c.patch(f"/collections/meeting_places/items/{fid}", headers={**editor, "If-Match": etag},
                    json={"properties": {"opening_hours": "Mo-Fr 10:00-12:00; PH off"}})
    assert first.status_code == 200, first.text
    # A second editor still holding the old ETag: 412, and the row stays as the first left it.
    stale = c.put(f"/collections/meeting_places/items/{fid}", headers={**editor, "If-Match": etag},
                  json=_place(name="Überschrieben"))
    assert stale.status_code == 412
    row = c.get(f"/collections/meeting_places/items/{fid}").json()["properties"]
    assert row["name"] == "Nachbarschaftstreff Test" and row["opening_hours"].startswith("Mo-Fr")

    history = c.get(f"/collections/meeting_places/items/{fid}/history", headers=editor).json()
    actions = [v["action"] for v in history["versions"]]
    assert actions == ["create", "update"]
    assert history["versions"][1]["before"]["properties"].get("opening_hours") is None
    assert history["versions"][1]["after"]["properties"]["opening_hours"] == "Mo-Fr 10:00-12:00; PH off"
    assert c.get(f"/collections/meeting_places/items/{fid}/history").status_code == 401

    assert c.delete(f"/collections/meeting_places/items/{fid}", headers=editor).status_code == 204
    assert c.get(f"/collections/meeting_places/items/{fid}").status_code == 404
    assert c.post(f"/collections/meeting_places/items/{fid}/restore", headers=editor).status_code == 403
    admin = _key(db_url, role="admin", layers=[])
    restored = c.post(f"/collections/meeting_places/items/{fid}/restore", headers=admin)
    assert restored.status_code == 201, restored.text
    again = c.get(f"/collections/meeting_places/items/{fid}").json()
    assert again["properties"]["opening_hours"] == "Mo-Fr 10:00-12:00; PH off"
    actions = [v["action"] for v in c.get(f"/collections/meeting_places/items/{fid}/history",
                                          headers=admin).json()["versions"]]
    assert actions == ["create", "update", "delete", "restore"]


def test_custom_layer_and_offer_writes(server: LiveServer, db_url: str) -> None:
    c = server.client
    key = _key(db_url, layers=["spielplaetze", "offers"])
    playground = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [9.95, 52.16]},
                  "properties": {"name": "Spielplatz Neu", "age_group": "0-6"}}
    made = c.post("/collections/spielplaetze/items", json=playground, headers=key)
    assert made.status_code == 201, made.text
    got = c.get(f"/collections/spielplaetze/items/{made.json()['id']}").json()
    assert got["properties"]["age_group"] == "0-6"
    with psycopg.connect(db_url) as conn:
        place = conn.execute("SELECT id FROM meeting_places WHERE name LIKE 'GWG-Treff%'").fetchone()[0]
    offer = {"type": "Feature", "geometry": None,
             "properties": {"title": "Sprachcafé", "category": "Sprachkurs", "meeting_place_id": place,
                            "languages": ["de", "uk"], "free": True}}
    made = c.post("/collections/offers/items", json=offer, headers=key)
    assert made.status_code == 201, made.text
    assert made.json()["geometry"]["type"] == "Point"  # held at the meeting place


def test_personal_data_only_with_consent_and_erasable(server: LiveServer, db_url: str,
                                                       editor: dict[str, str]) -> None:
    c = server.client
    made = c.post("/collections/meeting_places/items", headers=editor,
                  json=_place(contact_person="Erika Beispiel", contact_person_phone="05371 12345"))
    fid = made.json()["id"]
    public = c.get(f"/collections/meeting_places/items/{fid}").json()["properties"]
    assert public["contact_person"] is None and public["contact_person_phone"] is None
    listed = c.get("/collections/meeting_places/items", params={"limit": 1000}).text
    assert "Erika" not in listed
    assert c.get("/collections/meeting_places/items",
                 params={"filter": "contact_person = 'Erika Beispiel'"}).status_code == 400
    assert c.get("/collections/meeting_places/items",
                 params={"properties": "contact_person"}).status_code == 400
    assert "Erika" not in c.get(f"/collections/meeting_places/items/{fid}/history",
                                headers=editor).text
    consent = c.post(f"/collections/meeting_places/items/{fid}/consent", headers=editor,
                     json={"given_by": "Erika Beispiel", "given_at": "2026-11-20T10:00:00+01:00",
                           "purpose": "Ansprechperson auf der Quartierskarte"})
    assert consent.status_code == 201, consent.text
    shown = c.get(f"/collections/meeting_places/items/{fid}").json()["properties"]
    assert shown["contact_person"] == "Erika Beispiel"

    result = CliRunner().invoke(cli, ["privacy", "erase", "meeting_places", "--person", "Erika Beispiel",
                                      "--actor", "Datenschutz"], env={"GEO_SERVICE_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    with psycopg.connect(db_url) as conn:
        left = conn.execute("SELECT count(*) FROM history WHERE before::text LIKE '%%Erika%%' "
                            "OR after::text LIKE '%%Erika%%'").fetchone()[0]
        logged = conn.execute("SELECT fields FROM privacy_log WHERE feature_id = %s", (fid,)).fetchone()
    assert left == 0 and "contact_person" in logged[0]
    assert c.get(f"/collections/meeting_places/items/{fid}").json()["properties"]["contact_person"] is None


@pytest.fixture
def tight_server(pg_cluster) -> Iterator[tuple[LiveServer, str]]:  # type: ignore[no-untyped-def]
    url = pg_cluster.create_database()
    try:
        with LiveServer(make_settings(url, rate_limit_reads=5, rate_limit_writes=2)) as live:
            yield live, url
    finally:
        pg_cluster.drop_database(url)


def test_rate_limit_counts_in_the_database(tight_server: tuple[LiveServer, str]) -> None:
    live, url = tight_server
    statuses = [live.get("/collections/meeting_places/items?limit=1").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    limited = live.get("/collections")
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["code"] == "TooManyRequests"
    assert live.get("/healthz").status_code == 200  # health checks are never throttled
    with psycopg.connect(url) as conn:
        buckets = conn.execute("SELECT bucket, hits FROM rate_counters").fetchall()
    # Counted per client network, stored as a hash: no client address in the database.
    assert buckets and all("127.0.0" not in b for b, _ in buckets)
    assert max(h for _, h in buckets) >= 8


def test_slow_requests_time_out_with_503(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.create_database()
    try:
        with LiveServer(make_settings(url, request_timeout_s=0.001)) as live:
            response = live.get("/collections")
            assert response.status_code == 503 and response.headers["retry-after"] == "5"
            assert "took longer" in response.json()["detail"]
            assert live.get("/healthz").status_code == 200  # health checks are not cut short
    finally:
        pg_cluster.drop_database(url)


def test_replicas_share_one_rate_budget(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.create_database()
    try:
        settings = make_settings(url, rate_limit_reads=6)
        with LiveServer(settings) as first, LiveServer(settings) as second:
            statuses = [first.get("/collections/offers/items?limit=1").status_code for _ in range(3)]
            statuses += [second.get("/collections/offers/items?limit=1").status_code for _ in range(3)]
            assert statuses == [200] * 6
            # The budget is spent across both processes: the next request fails on either.
            assert first.get("/collections").status_code == 429
            assert second.get("/collections").status_code == 429
    finally:
        pg_cluster.drop_database(url)
