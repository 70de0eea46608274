"""The editors' inbox of "Fehler melden" reports: read and closed with a key, within its grants."""

from __future__ import annotations

import psycopg

from geo_service.auth import create_key
from tests.utils.builders import add_meeting_place
from tests.utils.server import LiveServer


def _key(db_url: str, role: str = "editor", layers: tuple[str, ...] = ("meeting_places",),
         **kw: object) -> dict[str, str]:
    key = create_key(db_url, role=role, layers=list(layers),
                     districts=list(kw.get("districts", [])),  # type: ignore[call-overload]
                     organisation=kw.get("organisation"), label="inbox")  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key.token}"}


def _report(server: LiveServer, feature: str, message: str) -> int:
    response = server.client.post("/reports", json={"feature": feature, "message": message,
                                                    "contact": "anwohnerin@example.org"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_inbox_shows_the_granted_layers_reports_and_marks_them_done(
        server: LiveServer, db_url: str) -> None:
    c = server.client
    with psycopg.connect(db_url) as conn:
        gwg = conn.execute("SELECT id, operator FROM meeting_places "
                           "WHERE name LIKE 'GWG-Treff%'").fetchone()
        quartier = conn.execute("SELECT id FROM quartiers LIMIT 1").fetchone()
    assert gwg is not None and quartier is not None
    other = add_meeting_place(db_url, name="Anderer Träger", lon=10.5630, lat=52.4770,
                              operator="Jemand anderes e.V.")
    on_gwg = _report(server, f"meeting_places.{gwg[0]}", "Die Telefonnummer stimmt nicht.")
    on_other = _report(server, f"meeting_places.{other}", "Geschlossen seit Mai.")
    on_quartier = _report(server, f"quartiers.{quartier[0]}", "Grenze falsch.")

    assert c.get("/reports").status_code == 401
    editor = _key(db_url)
    doc = c.get("/reports", headers=editor).json()
    ids = [r["id"] for r in doc["reports"]]
    assert on_gwg in ids and on_other in ids and on_quartier not in ids
    assert {r["layer"] for r in doc["reports"]} == {"meeting_places"}
    first = next(r for r in doc["reports"] if r["id"] == on_gwg)
    assert first["message"] == "Die Telefonnummer stimmt nicht."
    assert first["contact"] == "anwohnerin@example.org" and first["status"] == "new"
    assert c.get("/reports", params={"layer": "quartiers"}, headers=editor).status_code == 403
    assert c.get("/reports", params={"status": "kaputt"}, headers=editor).status_code == 400

    # A key bound to one organisation sees and closes only reports on its own records.
    own = _key(db_url, organisation=gwg[1])
    own_ids = [r["id"] for r in c.get("/reports", headers=own).json()["reports"]]
    assert on_gwg in own_ids and on_other not in own_ids
    assert c.patch(f"/reports/{on_other}", json={"status": "done"}, headers=own).status_code == 403

    bad = c.patch(f"/reports/{on_gwg}", json={"status": "erledigt"}, headers=editor)
    assert bad.status_code == 400
    assert c.patch(f"/reports/{on_quartier}", json={"status": "done"},
                   headers=editor).status_code == 403
    assert c.patch("/reports/999999", json={"status": "done"}, headers=editor).status_code == 404
    done = c.patch(f"/reports/{on_gwg}", json={"status": "done"}, headers=editor)
    assert done.status_code == 200 and done.json() == {"id": on_gwg, "status": "done"}
    assert on_gwg not in [r["id"] for r in c.get("/reports", headers=editor).json()["reports"]]
    closed = c.get("/reports", params={"status": "done"}, headers=editor).json()["reports"]
    assert [r["id"] for r in closed] == [on_gwg]
    admin = _key(db_url, role="admin", layers=())
    everything = [r["id"] for r in c.get("/reports", params={"status": "all"},
                                         headers=admin).json()["reports"]]
    assert {on_gwg, on_other, on_quartier} <= set(everything)
