"""Personal data and old versions from the attacker's side, against the live service: a
consent recorded for one contact person must not publish the next one; a key narrowed to one
district or organisation must not read another's history, nor earlier contact persons."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import psycopg
import shapely

from geo_service.auth import create_key
from geo_service.io.importer import import_path
from tests.conftest import make_settings
from tests.io.files import registry
from tests.utils.server import LiveServer

ITEMS = "/collections/meeting_places/items"
GIFHORN = (10.5622, 52.4765)
HILDESHEIM = (9.9605, 52.17)


def _key(db_url: str, role: str = "editor", **grant: object) -> dict[str, str]:
    key = create_key(db_url, role=role, layers=["meeting_places"],
                     districts=list(grant.get("districts", [])),  # type: ignore[call-overload]
                     organisation=grant.get("organisation"),  # type: ignore[arg-type]
                     label=str(grant.get("label", "Redaktion")))
    return {"Authorization": f"Bearer {key.token}"}


def _place(at: tuple[float, float], **props: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(at)},
            "properties": {"name": "Nachbarschaftstreff Einwilligung", "kind": "Nachbarschaftstreff",
                           **props}}


def _consent(live: LiveServer, fid: int, key: dict[str, str], person: str) -> None:
    answer = live.client.post(f"{ITEMS}/{fid}/consent", headers=key, json={
        "given_by": person, "given_at": "2026-11-20T10:00:00+01:00",
        "purpose": "Ansprechperson auf der Quartierskarte"})
    assert answer.status_code == 201, answer.text


def _public_text(live: LiveServer, fid: int) -> str:
    """Everything the public can read about the item: JSON, HTML, the list."""
    return "\n".join([live.get(f"{ITEMS}/{fid}").text, live.get(f"{ITEMS}/{fid}?f=html").text,
                      live.get(ITEMS, params={"limit": 1000}).text])


def test_changing_the_contact_person_voids_the_consent(db_url: str) -> None:
    editor = _key(db_url)
    with LiveServer(make_settings(db_url)) as live:
        made = live.client.post(ITEMS, headers=editor, json=_place(
            GIFHORN, contact_person="Erika Beispiel", contact_person_email="erika@example.org"))
        fid = made.json()["id"]
        _consent(live, fid, editor, "Erika Beispiel")
        assert "erika@example.org" in live.get(f"{ITEMS}/{fid}").text

        # Another editor swaps in someone else, keeping the item (and, before, its consent).
        swap = live.client.patch(f"{ITEMS}/{fid}", headers=editor, json={"properties": {
            "contact_person": "Max Mustermann", "contact_person_email": "max@example.org"}})
        assert swap.status_code == 200, swap.text
        assert swap.headers["consent-revoked"] == "true"
        shown = live.get(f"{ITEMS}/{fid}").json()["properties"]
        assert shown["contact_person"] is None and shown["contact_person_email"] is None
        public = _public_text(live, fid)
        assert "Max Mustermann" not in public and "max@example.org" not in public
        assert "Erika" not in public

        # Max consents; a change of anything but the person keeps his consent.
        _consent(live, fid, editor, "Max Mustermann")
        keep = live.client.patch(f"{ITEMS}/{fid}", headers=editor,
                                 json={"properties": {"description": "Jeden Dienstag offen"}})
        assert "consent-revoked" not in keep.headers
        assert live.get(f"{ITEMS}/{fid}").json()["properties"]["contact_person"] == "Max Mustermann"
        # A new phone number is new personal data: it needs a consent of its own (PUT too).
        current = live.get(f"/editor/items/meeting_places/{fid}", headers=editor).json()
        replaced = live.client.put(f"{ITEMS}/{fid}", headers=editor, json={
            "type": "Feature", "geometry": current["geometry"],
            "properties": {**{k: v for k, v in current["properties"].items()
                              if k not in ("quartier", "quartier_id")},
                           "contact_person_phone": "05371 98765"}})
        assert replaced.status_code == 200, replaced.text
        assert replaced.headers["consent-revoked"] == "true"
        assert "05371 98765" not in _public_text(live, fid)

        # History shows the consented person's data only, never an earlier person's.
        _consent(live, fid, editor, "Max Mustermann")
        history = live.get(f"{ITEMS}/{fid}/history", headers=editor).text
        assert "Erika" not in history and "erika@example.org" not in history
        assert "05371 98765" in history
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT given_by, revoked_at IS NOT NULL FROM consents "
                            "WHERE feature_id = %s ORDER BY id", (fid,)).fetchall()
    assert rows == [("Erika Beispiel", True), ("Max Mustermann", True), ("Max Mustermann", False)]


def test_an_import_does_not_carry_a_consent_to_a_new_person(db_url: str, tmp_path: Path) -> None:
    editor = _key(db_url)
    settings = make_settings(db_url)
    with LiveServer(settings) as live:
        fid = live.client.post(ITEMS, headers=editor, json=_place(
            GIFHORN, contact_person="Erika Beispiel")).json()["id"]
        _consent(live, fid, editor, "Erika Beispiel")
        # The planner re-imports the layer from a file that names another contact person.
        current = gpd.GeoDataFrame(
            [{"name": "Nachbarschaftstreff Einwilligung", "kind": "Nachbarschaftstreff",
              "contact_person": "Max Mustermann"}], geometry=[shapely.Point(*GIFHORN)], crs=4326)
        path = tmp_path / "treffpunkte.geojson"
        current.to_file(path, driver="GeoJSON")
        report = import_path(db_url, registry(), "meeting_places", path, settings=settings,
                             replace=True)
        assert report.ok, report.summary()
        listed = live.get(ITEMS, params={"limit": 1000}).json()["features"]
        again = [f for f in listed if f["properties"]["name"] == "Nachbarschaftstreff Einwilligung"]
        assert len(again) == 1 and again[0]["properties"]["contact_person"] is None
        assert "Max Mustermann" not in live.get(ITEMS, params={"limit": 1000}).text


def test_history_keeps_to_the_keys_scope(db_url: str) -> None:
    admin = _key(db_url, role="admin", label="Landesamt")
    gifhorn = _key(db_url, districts=["Landkreis Gifhorn"], label="Quartiersmanagement Gifhorn")
    hildesheim = _key(db_url, districts=["Landkreis Hildesheim"], label="Nordstadt Hildesheim")
    lebenshilfe = _key(db_url, organisation="Lebenshilfe Hildesheim e.V.", label="Lebenshilfe")
    with LiveServer(make_settings(db_url)) as live:
        made = live.client.post(ITEMS, headers=hildesheim, json=_place(
            HILDESHEIM, name="Treff Hildesheim", operator="Lebenshilfe Hildesheim e.V.",
            description="Schlüssel liegt bei Frau K."))
        assert made.status_code == 201, made.text
        fid = made.json()["id"]
        history = f"{ITEMS}/{fid}/history"
        # The Gifhorn key may not change this item, so it may not read its past either.
        denied = live.get(history, headers=gifhorn)
        assert denied.status_code == 403, denied.text
        assert "Schlüssel" not in denied.text and "Nordstadt Hildesheim" not in denied.text
        other_org = _key(db_url, organisation="GWG – Gifhorner Wohnungsbau-Genossenschaft eG")
        assert live.get(history, headers=other_org).status_code == 403
        assert live.get(history, headers=lebenshilfe).status_code == 200
        assert live.get(history, headers=hildesheim).json()["versions"][0]["after"] is not None

        # The item moves to Gifhorn: Gifhorn's key now sees it, but not where it was before.
        moved = live.client.patch(f"{ITEMS}/{fid}", headers=admin, json={
            "geometry": {"type": "Point", "coordinates": list(GIFHORN)},
            "properties": {"description": "Umgezogen"}})
        assert moved.status_code == 200, moved.text
        doc = live.get(history, headers=gifhorn).json()
        create, move = doc["versions"]
        assert create["after"] is None and create["actor"] is None
        assert create["withheld"] == ["after"]
        assert move["before"] is None and move["withheld"] == ["before"]
        assert move["after"]["properties"]["description"] == "Umgezogen"
        text = live.get(history, headers=gifhorn).text
        assert "Schlüssel" not in text and "Nordstadt Hildesheim" not in text
        assert "withheld" not in live.get(history, headers=admin).text

        # Deleted: the last recorded state decides, so Hildesheim's key cannot read it now.
        assert live.client.delete(f"{ITEMS}/{fid}", headers=admin).status_code == 204
        assert live.get(history, headers=hildesheim).status_code == 403
        assert live.get(history, headers=gifhorn).status_code == 200
        assert live.get(f"{ITEMS}/999999999/history", headers=gifhorn).status_code == 404
