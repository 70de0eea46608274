"""The editor page in Debian's Chromium: log in with a key, place a meeting place, see the API's
validation inline, save, edit with the ETag (and a conflict), handle a resident's report."""

from __future__ import annotations

import re

import httpx
import psycopg
from playwright.sync_api import Browser, Page, expect

from geo_service.auth import create_key
from tests.editor.conftest import screenshot
from tests.maps.conftest import Watch, open_page, wait_loaded
from tests.utils.server import LiveServer

#: An empty spot in Gifhorn where the new meeting place goes.
SPOT = (52.4790, 10.5520)
EVIL = "<img src=x onerror=alert(1)> Die Tür ist zu"
#: Chromium logs a fetch answered 4xx as a console error; these answers are expected here.
EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (400|412)")


def _count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def _click_map(page: Page, lat: float, lon: float) -> None:
    """A click on the map at a coordinate, as a person would click there."""
    point = page.evaluate(f"(() => {{ const p = QK.map.latLngToContainerPoint([{lat}, {lon}]); "
                          "return {x: p.x, y: p.y}; })()")
    page.locator(".folium-map").click(position={"x": point["x"], "y": point["y"]})


def _errors(watch: Watch) -> list[str]:
    return [e for e in watch.errors if not EXPECTED.search(e)]


def test_place_validate_save_edit_and_handle_a_report(editor_server: LiveServer,
                                                      browser: Browser) -> None:
    url = editor_server.settings.database_url or ""
    key = create_key(url, role="editor", layers=["meeting_places"], districts=[],
                     organisation=None, label="Stadtteilbüro")
    bearer = {"Authorization": f"Bearer {key.token}"}
    page, watch = open_page(browser)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        response = page.goto(f"{editor_server.url}/editor?lat={SPOT[0]}&lon={SPOT[1]}&zoom=16")
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "script-src 'self' 'nonce-" in csp
        assert "unsafe-inline" not in csp.split("style-src")[0]
        expect(page.locator("h1")).to_have_text("Daten bearbeiten")

        # Log in: the key goes to sessionStorage and into headers, never into a URL.
        page.fill("#key-input", key.token)
        page.click("#login-button")
        expect(page.locator("#workspace")).to_be_visible()
        wait_loaded(page)
        expect(page.locator("#whoami")).to_contain_text(key.prefix)
        assert page.evaluate("sessionStorage.getItem('qk-editor-key')") == key.token
        assert page.input_value("#layer-select") == "meeting_places"
        # The form is generated from the layer file: required marks, enums, personal fields.
        expect(page.locator("label[for=field-name]")).to_have_text("Name *")
        assert "Nachbarschaftstreff" in page.eval_on_selector_all(
            "#field-kind option", "os => os.map(o => o.value)")
        expect(page.locator("label[for=field-contact_person] .personal")).to_be_visible()
        assert page.get_attribute("#field-name", "maxlength") == "200"
        assert page.locator("#field-quartier").count() == 0  # read-only: set by the database

        # Place the meeting place by clicking the map, fill the form with a bad website.
        before = _count(url, "SELECT count(*) FROM meeting_places")
        _click_map(page, *SPOT)
        expect(page.locator("path.qk-draft")).to_have_count(1)
        page.fill("#field-name", "Nachbarschaftstreff Am Teich")
        page.select_option("#field-kind", "Nachbarschaftstreff")
        page.fill("#field-town", "Gifhorn")
        page.fill("#field-website", "javascript:alert(1)")
        page.click("#save-button")
        expect(page.locator("#error-website")).to_contain_text("javascript:alert(1)")
        expect(page.locator("#form-errors")).to_contain_text("Bitte korrigieren")
        assert page.get_attribute("#field-website", "aria-invalid") == "true"
        assert _count(url, "SELECT count(*) FROM meeting_places") == before
        page.locator("#error-website").scroll_into_view_if_needed()
        screenshot(page, "editor_validation_error")

        # Fix it and save: the item exists through the API, where it was clicked.
        page.fill("#field-website", "https://example.org/teich")
        page.click("#save-button")
        expect(page.locator("#save-status")).to_contain_text("Gespeichert")
        item_id = page.get_attribute("#item-form", "data-item-id")
        assert item_id and item_id.isdigit()
        item = editor_server.get(f"/collections/meeting_places/items/{item_id}").json()
        assert item["properties"]["name"] == "Nachbarschaftstreff Am Teich"
        assert item["properties"]["website"] == "https://example.org/teich"
        lon, lat = item["geometry"]["coordinates"]
        assert abs(lon - SPOT[1]) < 0.0002 and abs(lat - SPOT[0]) < 0.0002
        expect(page.locator("#error-website")).to_have_text("")

        # Edit it: start afresh, click its marker, change a property, save with the ETag.
        page.click("#new-item")
        expect(page.locator("#field-name")).to_have_value("")
        marker = page.locator(f"path.qk-item-{item_id}")
        expect(marker).to_have_count(1)
        marker.click()
        expect(page.locator("#form-heading")).to_contain_text(f"Nr. {item_id}")
        expect(page.locator("#field-name")).to_have_value("Nachbarschaftstreff Am Teich")
        page.fill("#field-description", "Jeden Dienstag Kaffee.")
        page.click("#save-button")
        expect(page.locator("#save-status")).to_contain_text("Gespeichert")
        item = editor_server.get(f"/collections/meeting_places/items/{item_id}").json()
        assert item["properties"]["description"] == "Jeden Dienstag Kaffee."
        assert item["properties"]["website"] == "https://example.org/teich"

        # Someone else changes it meanwhile: the page's ETag is stale, 412, then reload.
        other = editor_server.client.patch(
            f"/collections/meeting_places/items/{item_id}",
            json={"properties": {"opening_hours": "Tu 09:00-12:00"}}, headers=bearer)
        assert other.status_code == 200
        page.fill("#field-description", "Jeden Mittwoch Kaffee.")
        page.click("#save-button")
        expect(page.locator("#form-errors")).to_contain_text("Jemand anderes")
        expect(page.locator("#reload-button")).to_be_visible()
        item = editor_server.get(f"/collections/meeting_places/items/{item_id}").json()
        assert item["properties"]["description"] == "Jeden Dienstag Kaffee."
        page.click("#reload-button")
        expect(page.locator("#field-opening_hours")).to_have_value("Tu 09:00-12:00")
        page.fill("#field-description", "Jeden Mittwoch Kaffee.")
        page.click("#save-button")
        expect(page.locator("#save-status")).to_contain_text("Gespeichert")
        history = editor_server.client.get(
            f"/collections/meeting_places/items/{item_id}/history", headers=bearer).json()
        actions = [v["action"] for v in history["versions"]]
        assert actions == ["create", "update", "update", "update"]

        # A resident reports a mistake through the public endpoint: it shows in the inbox.
        report = httpx.post(f"{editor_server.url}/reports", json={
            "feature": f"meeting_places.{item_id}", "message": EVIL})
        assert report.status_code == 201
        page.click("#inbox-refresh")
        entry = page.locator(f"#inbox li[data-id='{report.json()['id']}']")
        expect(entry.locator(".report-message")).to_have_text(EVIL)  # as text, not markup
        assert page.locator("#inbox img").count() == 0
        entry.scroll_into_view_if_needed()
        screenshot(page, "editor_inbox")
        entry.locator(".mark-done").click()
        expect(entry).to_have_count(0)
        assert _count(url, "SELECT count(*) FROM reports WHERE id = %s AND status = 'done'",
                      report.json()["id"]) == 1

        assert not any(key.token in r or key.token.split("_", 2)[2] in r for r in requests)
        assert watch.dialogs == []
        assert _errors(watch) == []
    finally:
        screenshot(page, "editor_final")
        page.context.close()
    assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"


def test_english_page_and_a_key_that_is_refused(editor_server: LiveServer,
                                                browser: Browser) -> None:
    page, watch = open_page(browser, locale="en-GB")
    try:
        page.goto(f"{editor_server.url}/editor?lang=en")
        expect(page.locator("h1")).to_have_text("Edit data")
        expect(page.locator("label[for=key-input]")).to_have_text("API key")
        page.fill("#key-input", "qk_nope_notakey")
        page.click("#login-button")
        expect(page.locator("#login-status")).to_have_text(
            "This key is unknown or has been revoked.")
        expect(page.locator("#workspace")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('qk-editor-key')") is None
        # A key for a custom layer gets its form in English, with the layer's own titles.
        url = editor_server.settings.database_url or ""
        key = create_key(url, role="editor", layers=["spielplaetze"], districts=[],
                         organisation=None, label=None)
        page.fill("#key-input", key.token)
        page.click("#login-button")
        expect(page.locator("#workspace")).to_be_visible()
        expect(page.locator("#form-heading")).to_have_text("New item: Playgrounds")
        expect(page.locator("label[for=field-age_group]")).to_have_text("Age group")
        expect(page.locator("#inbox")).to_contain_text("No open reports.")
        assert [e for e in watch.errors if "status of 401" not in e] == []
    finally:
        screenshot(page, "editor_english")
        page.context.close()
    assert watch.outside == []
