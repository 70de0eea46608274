"""Stored HTML from the attacker's side, in Debian's Chromium: entries whose names, operators
and addresses are markup (a script tag, a meta refresh, an image with onerror) on the resident
map, the planner, the embeddable map and the editor — in lists, tooltips and popups. Nothing
runs, nothing navigates, and the text shows literally."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, Page

from geo_service.auth import create_key
from tests.conftest import make_settings
from tests.maps.conftest import Watch, open_page, screenshot, wait_loaded
from tests.utils.builders import add_custom_points, add_meeting_place
from tests.utils.server import LiveServer

#: What each piece of markup would do if it became markup: set a flag, or leave the page.
SCRIPT = "<script>window.__pwned = 'script'</script>Treff"
REFRESH = '<meta http-equiv="refresh" content="0;url=/collections">Café'
IMAGE = "<img src=x onerror=\"window.__pwned = 'img'\">Büro"
HOSTILE = (SCRIPT, REFRESH, IMAGE)
#: Around the GWG-Treff in Gifhorn.
LAT, LON = 52.4765, 10.5640
MARKUP = (".leaflet-pane script, .leaflet-pane meta, "
          ".leaflet-pane img:not(.leaflet-tile):not(.leaflet-marker-icon), "
          "#results script, #results meta, #results img, #inbox script, #inbox img, #inbox meta")


@pytest.fixture(scope="module")
def hostile_server(module_db_url: str, tile_url: str) -> Iterator[LiveServer]:
    """Markup in every text a map shows: meeting places, an offer, a custom layer, a quartier."""
    url = module_db_url
    places = [add_meeting_place(url, name=text, lon=LON + n * 0.0012, lat=LAT, town="Gifhorn",
                                operator=text, address=text, opening_hours="Mo-Fr 09:00-17:00")
              for n, text in enumerate(HOSTILE)]
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO offers (title, category, meeting_place_id, organiser) "
                     "VALUES (%s, 'Sprachkurs', %s, %s)", (SCRIPT, places[0], IMAGE))
        conn.execute("UPDATE quartiers SET name = %s WHERE district = 'Landkreis Gifhorn'",
                     (REFRESH,))
    add_custom_points(url, "spielplaetze", [(LON + n * 0.0012, LAT + 0.001,
                                             {"name": text, "operator": text})
                                            for n, text in enumerate(HOSTILE)])
    with LiveServer(make_settings(url, basemap_url=tile_url)) as live:
        yield live


def _arm(page: Page) -> list[str]:
    """Record every navigation of the page (the permalink's replaceState included)."""
    navigations: list[str] = []
    page.on("framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


def _loaded(page: Page) -> None:
    """Mark the document: a real navigation (a meta refresh) would start a fresh one."""
    page.evaluate("window.__sameDocument = true")


def _open_tooltips(page: Page) -> str:
    """Open every tooltip the map has (Leaflet renders their content) and return their text."""
    page.evaluate("""() => QK.map.eachLayer(l => {
        if (l.getTooltip && l.getTooltip()) { l.openTooltip(); }
    })""")
    page.wait_for_timeout(1500)  # long enough for a meta refresh with content=0 to fire
    assert page.evaluate("window.__sameDocument") is True, "a tooltip navigated the page away"
    return page.inner_text(".leaflet-tooltip-pane")


def _open_popups(page: Page) -> list[str]:
    """Open every popup in turn (one is open at a time) and return what each showed."""
    shown = page.evaluate("""() => {
        const texts = [];
        QK.map.eachLayer(l => {
            if (l.getPopup && l.getPopup()) {
                l.openPopup();
                texts.push(document.querySelector('.leaflet-popup-pane').innerText);
            }
        });
        return texts;
    }""")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__sameDocument") is True, "a popup navigated the page away"
    return list(shown)


def _assert_inert(page: Page, watch: Watch, navigations: list[str], url: str) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__sameDocument") is True, navigations
    path = url.split("?")[0]
    assert all(n.split("?")[0] == path for n in navigations), navigations
    assert page.locator(MARKUP).count() == 0
    assert watch.dialogs == []


def test_resident_map(hostile_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser)
    url = f"{hostile_server.url}/karte?lat={LAT}&lon={LON}&zoom=17"
    navigations = _arm(page)
    page.goto(url)
    wait_loaded(page)
    _loaded(page)
    listed = page.inner_text("#results")
    for text in HOSTILE:
        assert text in listed  # the markup, shown as the letters it is
    popups = "\n".join(_open_popups(page))
    for text in HOSTILE:
        assert text in popups
    # The report dialog names the entry too.
    card = page.locator("#results article").filter(
        has=page.locator(".card-title", has_text="Büro")).first
    card.locator("button", has_text="Fehler melden").click()
    assert IMAGE in page.inner_text("#report-about")
    screenshot(page, "hostile_resident_map")
    _assert_inert(page, watch, navigations, url)
    assert watch.errors == []
    page.context.close()


def test_planner_map(hostile_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser)
    url = (f"{hostile_server.url}/planung?lat={LAT}&lon={LON}&zoom=17"
           "&layers=quartiers,meeting_places,spielplaetze,offers")
    navigations = _arm(page)
    page.goto(url)
    wait_loaded(page)
    page.wait_for_function("() => document.querySelectorAll('.qk-dot').length >= 6")
    _loaded(page)
    tips = _open_tooltips(page)
    for text in HOSTILE:
        assert text in tips
    assert REFRESH in tips  # the quartier's name, from the indicators endpoint
    popups = "\n".join(_open_popups(page))
    for text in HOSTILE:
        assert text in popups
    screenshot(page, "hostile_planner_map")
    _assert_inert(page, watch, navigations, url)
    assert watch.errors == []
    page.context.close()


def test_embed_map(hostile_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser)
    bbox = f"{LON - 0.003},{LAT - 0.002},{LON + 0.005},{LAT + 0.003}"
    url = f"{hostile_server.url}/embed?layers=meeting_places,spielplaetze&bbox={bbox}"
    navigations = _arm(page)
    page.goto(url)
    wait_loaded(page)
    _loaded(page)
    listed = page.inner_text("#results")
    for text in HOSTILE:
        assert text in listed
    tips = _open_tooltips(page)
    popups = "\n".join(_open_popups(page))
    for text in HOSTILE:
        assert text in tips and text in popups
    screenshot(page, "hostile_embed_map")
    _assert_inert(page, watch, navigations, url)
    assert watch.errors == []
    page.context.close()


def test_editor(hostile_server: LiveServer, browser: Browser) -> None:
    db = hostile_server.settings.database_url or ""
    key = create_key(db, role="editor", layers=["meeting_places"], districts=[],
                     organisation=None, label='<meta http-equiv="refresh" content="0;url=/">')
    with psycopg.connect(db) as conn:  # a resident's report that is markup, for the inbox
        place = conn.execute("SELECT id FROM meeting_places WHERE name = %s",
                             (IMAGE,)).fetchone()[0]  # type: ignore[index]
    report = hostile_server.client.post("/reports", content=json.dumps({
        "feature": f"meeting_places.{place}", "message": REFRESH + IMAGE}),
        headers={"Content-Type": "application/json"})
    assert report.status_code == 201, report.text
    page, watch = open_page(browser)
    url = f"{hostile_server.url}/editor?lat={LAT}&lon={LON}&zoom=17"
    navigations = _arm(page)
    page.goto(url)
    _loaded(page)
    page.fill("#key-input", key.token)
    page.click("#login-button")
    page.wait_for_function("() => QK.itemIds && QK.itemIds().length >= 3")
    page.wait_for_function("() => document.querySelectorAll('#inbox .report').length >= 1")
    tips = _open_tooltips(page)
    for text in HOSTILE:
        assert text in tips  # before: bindTooltip(String(name)) made these markup
    assert REFRESH in page.inner_text("#inbox")
    assert "http-equiv" in page.inner_text("#whoami")  # the key's label, as text
    # Open a hostile item in the form: its values are field values, not markup.
    page.evaluate("id => document.querySelector('path.qk-item-' + id)"
                  ".dispatchEvent(new MouseEvent('click', {bubbles: true}))", place)
    page.wait_for_function(f"() => document.getElementById('field-name').value === {json.dumps(IMAGE)}")
    screenshot(page, "hostile_editor")
    _assert_inert(page, watch, navigations, url)
    assert watch.errors == []
    page.context.close()
