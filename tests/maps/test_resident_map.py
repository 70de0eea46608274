"""The resident map in Debian's Chromium: list and markers equal /nearby, filters, keyboard,
right-to-left, escaping, the fixed clock with a public holiday, axe-core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.maps.conftest import Watch, open_page, screenshot, wait_loaded, loads
from tests.utils.builders import add_meeting_place
from tests.utils.server import LiveServer

GWG = (10.5625, 52.4762)
HERE = {"lat": "52.4770", "lon": "10.5630"}
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module", autouse=True)
def evil_place(map_server: LiveServer) -> int:
    """A place whose name is markup, 300 m from the GWG-Treff: it must show as text."""
    url = map_server.settings.database_url
    assert url is not None
    return add_meeting_place(url, name=EVIL, lon=10.5665, lat=52.4765,
                             address='Teststraße 1"><script>alert(2)</script>', town="Gifhorn",
                             phone="<b>0</b>",
                             opening_hours="Mo-Fr 09:00-17:00")


def _karte(map_server: LiveServer, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {**HERE, **params}.items())
    return f"{map_server.url}/karte?{query}"


def _api_ids(map_server: LiveServer, page: Page) -> list[str]:
    url = page.evaluate("QK.nearbyUrl()")
    doc = map_server.get(url).json()
    return [f["id"] for f in doc["features"]]


def _shown(page: Page) -> tuple[list[str], list[str]]:
    items = page.eval_on_selector_all("#results > li", "els => els.map(e => e.dataset.id)")
    return items, page.evaluate("QK.markerIds()")


def test_list_and_markers_match_the_api_and_follow_filters(
        map_server: LiveServer, page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server))
    wait_loaded(page)
    api = _api_ids(map_server, page)
    assert len(api) >= 3
    items, markers = _shown(page)
    assert items == api and sorted(markers) == sorted(api)
    assert "Luftlinie" in page.inner_text("#results > li:first-child")

    before = loads(page)
    page.select_option("#f-category", "Sprachkurs")
    wait_loaded(page, before)
    assert "category=Sprachkurs" in page.evaluate("QK.nearbyUrl()")
    filtered = _api_ids(map_server, page)
    items, markers = _shown(page)
    assert items == filtered and sorted(markers) == sorted(filtered)
    assert filtered != api
    assert "category=Sprachkurs" in page.url  # the permalink follows the filter
    assert watch.errors == []


def test_offers_on_a_given_day(map_server: LiveServer, page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server))
    wait_loaded(page)
    everything = _api_ids(map_server, page)
    before = loads(page)
    page.fill("#f-day", "2026-11-25")  # a Wednesday: the GWG-Treff's Wednesday offers only
    page.dispatch_event("#f-day", "change")
    wait_loaded(page, before)
    assert "day=2026-11-25" in page.evaluate("QK.nearbyUrl()")
    that_day = _api_ids(map_server, page)
    items, markers = _shown(page)
    assert items == that_day and sorted(markers) == sorted(that_day)
    assert that_day and that_day != everything
    assert "day=2026-11-25" in page.url
    assert watch.errors == []


def test_permalink_restores_position_and_filters(map_server: LiveServer,
                                                 page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server, zoom="14", free="1", category="Beratung"))
    wait_loaded(page)
    assert page.input_value("#f-category") == "Beratung"
    assert page.is_checked("#f-free")
    url = page.evaluate("QK.nearbyUrl()")
    assert "lat=52.477000" in url and "free=true" in url
    assert page.evaluate("QK.map.getZoom()") == 14
    assert watch.errors == []


def test_list_is_operable_by_keyboard_alone(map_server: LiveServer,
                                            page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server))
    wait_loaded(page)
    page.keyboard.press("Tab")  # the skip link
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "results-heading"
    page.keyboard.press("Tab")
    first = page.evaluate("document.activeElement.closest('li').dataset.id")
    assert first == page.eval_on_selector("#results > li", "e => e.dataset.id")
    page.keyboard.press("Enter")  # "focus the marker"
    page.wait_for_selector(".leaflet-popup-content .card")
    page.wait_for_function("() => document.activeElement.classList.contains('qk-marker')")
    # The report form opens, takes text and sends with the keyboard too.
    page.focus(".leaflet-popup-content .card-actions button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#report-dialog[open]")
    page.keyboard.type("Die Öffnungszeiten haben sich geändert.")
    page.focus("#report-send")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('report-status').textContent.length > 0")
    assert "Danke" in page.inner_text("#report-status")
    page.keyboard.press("Escape")
    assert watch.errors == []


def test_markup_in_data_shows_as_text_and_runs_nothing(map_server: LiveServer,
                                                       page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server))
    wait_loaded(page)
    text = page.inner_text("#results")
    assert EVIL in text
    assert "<script>alert(2)</script>" in text
    assert page.locator("#results img").count() == 0
    assert page.locator("#results a[href^='javascript']").count() == 0
    page.click(f"#results button:text-is('{EVIL}')")
    page.wait_for_selector(".leaflet-popup-content .card")
    assert EVIL in page.inner_text(".leaflet-popup-content")
    page.fill("#search-input", "<img")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-results li")
    assert EVIL in page.inner_text("#search-results")
    page.wait_for_timeout(300)
    assert watch.dialogs == []
    assert watch.errors == []


def test_open_now_with_a_fixed_clock_and_reformation_day(map_server: LiveServer,
                                                         browser: Browser) -> None:
    """GWG-Treff is open Fridays 09–12 but not on public holidays; 31 Oct 2025 (a Friday) is
    Reformationstag in Lower Saxony, a holiday that Germany as a whole does not keep."""
    shown = {}
    for label, now in (("friday", "2025-10-24T10:00:00%2B02:00"),
                       ("reformationstag", "2025-10-31T10:00:00%2B01:00")):
        page, watch = open_page(browser)
        page.goto(_karte(map_server, now=now))
        wait_loaded(page)
        first = page.locator("#results > li", has_text="GWG-Treff-PUNKT 53")
        badge = first.locator(".badge").inner_text().strip()
        before = loads(page)
        page.check("#f-open")
        wait_loaded(page, before)
        names = page.inner_text("#results")
        api = _api_ids(map_server, page)
        assert page.eval_on_selector_all("#results > li", "els => els.map(e => e.dataset.id)") == api
        shown[label] = (badge, "GWG-Treff-PUNKT 53" in names)
        screenshot(page, f"open_now_{label}")
        assert watch.errors == [] and watch.outside == []
        page.context.close()
    assert shown["friday"] == ("jetzt geöffnet", True)
    assert shown["reformationstag"] == ("jetzt geschlossen", False)


def test_arabic_page_is_right_to_left_and_translated(map_server: LiveServer,
                                                     page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server, lang="ar"))
    wait_loaded(page)
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert "في خط مستقيم" in page.inner_text("#results")
    assert watch.errors == []


def test_accept_language_picks_ukrainian(map_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser, locale="uk-UA")
    page.goto(_karte(map_server))
    wait_loaded(page)
    assert page.get_attribute("html", "lang") == "uk"
    assert "по прямій" in page.inner_text("#results")
    assert watch.errors == [] and watch.outside == []
    page.context.close()


def test_phone_layout_at_360_px(map_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser, width=360, height=740)
    page.goto(_karte(map_server))
    wait_loaded(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "no horizontal scrolling on a phone"
    box = page.locator("#results > li button").first.bounding_box()
    assert box is not None and box["height"] >= 44
    screenshot(page, "karte_phone_360")
    assert watch.errors == [] and watch.outside == []
    page.context.close()


def test_data_still_shows_when_tiles_fail(map_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser)
    page.route("**/*.png", lambda route: route.abort())  # every tile fails
    page.goto(_karte(map_server))
    wait_loaded(page)
    assert page.locator("#results > li").count() >= 3
    assert len(page.evaluate("QK.markerIds()")) >= 3
    page.context.close()


def test_axe_finds_no_serious_or_critical_violation(map_server: LiveServer,
                                                    page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(_karte(map_server))
    wait_loaded(page)
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], json.dumps(bad, indent=1, ensure_ascii=False)
