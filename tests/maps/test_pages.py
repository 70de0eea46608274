"""Every map page in Chromium: no console error, nothing fetched from outside 127.0.0.1, a
screenshot; the planner's layers, choropleth, year filter, measuring and download; /embed."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

from tests.maps.conftest import Watch, loads, wait_loaded
from tests.utils.server import LiveServer

PAGES = ["/karte", "/karte?lang=ar", "/karte?lang=tr", "/planung", "/planung?lang=en",
         "/embed?layers=meeting_places,offers&bbox=10.50,52.45,10.62,52.50",
         "/impressum", "/datenschutz", "/barrierefreiheit"]
MAP_PAGES = ("/karte", "/planung", "/embed")


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly(map_server: LiveServer, page_watch: tuple[Page, Watch], path: str) -> None:
    page, watch = page_watch
    response = page.goto(map_server.url + path)
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "unsafe-eval" not in csp
    if path.startswith(MAP_PAGES):
        wait_loaded(page)
    for slug in ("impressum", "datenschutz", "barrierefreiheit"):
        assert page.locator(f"footer a[href^='{slug}']").count() == 1
    assert watch.errors == []


def test_legal_texts_come_from_settings(map_server: LiveServer) -> None:
    text = map_server.get("/impressum").text
    assert "GEO_SERVICE_LEGAL_IMPRESSUM" in text


def test_embed_frame_ancestors_from_settings(map_server: LiveServer) -> None:
    embed = map_server.get("/embed?layers=meeting_places").headers["content-security-policy"]
    karte = map_server.get("/karte").headers["content-security-policy"]
    assert "frame-ancestors 'self'" in embed
    assert "frame-ancestors 'none'" in karte


def test_planner_layers_choropleth_year_measure(map_server: LiveServer,
                                               page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(f"{map_server.url}/planung?lat=52.48&lon=10.56&zoom=13")
    wait_loaded(page)
    control = page.inner_text(".leaflet-control-layers")
    for title in ("Quartiere", "Treffpunkte", "Angebote", "Projekte", "Spielplätze"):
        assert title in control
    assert page.locator(".leaflet-control-zoom-fullscreen").count() == 1
    assert page.locator(".qk-layer-meeting_places").count() >= 1

    before = loads(page)
    page.select_option("#indicator", "offers_per_1000")
    wait_loaded(page, before)
    assert "Angebote je 1.000" in page.inner_text("#legend")
    assert "indicator=offers_per_1000" in page.url

    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    before = loads(page)
    page.select_option("#year", "2024")
    wait_loaded(page, before)
    assert any("/collections/projects/items" in u and "datetime=2024-01-01" in u for u in requests)

    page.click(".qk-measure button")
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 200, box["y"] + 300)
    page.mouse.click(box["x"] + 500, box["y"] + 300)
    assert "Strecke:" in page.inner_text("#status")
    assert page.evaluate("QK.measured") > 100
    page.keyboard.press("Escape")
    assert watch.errors == []


def test_permalink_restores_planner_view(map_server: LiveServer, page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(f"{map_server.url}/planung?lat=52.17&lon=9.96&zoom=12&layers=quartiers,offers"
              "&indicator=offers&year=2025")
    wait_loaded(page)
    assert page.evaluate("QK.map.getZoom()") == 12
    assert page.input_value("#indicator") == "offers"
    assert page.input_value("#year") == "2025"
    assert page.locator(".qk-layer-meeting_places").count() == 0
    assert abs(page.evaluate("QK.map.getCenter().lat") - 52.17) < 0.01
    assert watch.errors == []


def test_download_what_i_see(map_server: LiveServer, page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(f"{map_server.url}/planung?lat=52.48&lon=10.56&zoom=13")
    wait_loaded(page)
    bbox = page.evaluate("QK.bboxOf(QK.map)")
    page.select_option("#dl-layer", "meeting_places")
    page.select_option("#dl-format", "geojson")
    with page.expect_download() as info:
        page.click("#download button[type=submit]")
    doc = json.loads(open(info.value.path(), encoding="utf-8").read())
    api = map_server.get("/collections/meeting_places/items", params={"bbox": bbox}).json()
    assert sorted(f["properties"]["name"] for f in doc["features"]) == sorted(
        f["properties"]["name"] for f in api["features"])
    assert "contact_person" not in doc["features"][0]["properties"]
    for fmt, magic in (("gpkg", b"SQLite format 3"), ("csv", b"id,")):
        body = map_server.get("/planung/export/meeting_places",
                              params={"bbox": bbox, "format": fmt}).content
        assert body.startswith(magic)
    assert watch.errors == []


def test_indicators_are_computed_per_quartier(map_server: LiveServer) -> None:
    doc = map_server.get("/planung/indicators", params={"indicator": "offers_per_1000"}).json()
    by_name = {f["properties"]["name"]: f["properties"] for f in doc["features"]}
    nordstadt = by_name["Nordstadt"]
    assert nordstadt["population"] == 10700
    assert nordstadt["value"] == pytest.approx(round(nordstadt["offers"] * 1000 / 10700, 2))
    assert by_name["Sögel Ortskern"]["value"] is None  # population unknown: no data
    assert map_server.get("/planung/indicators", params={"indicator": "x"}).status_code == 400


def test_dense_layers_are_counted_per_cell(map_server: LiveServer) -> None:
    doc = map_server.get("/planung/grid/meeting_places",
                         params={"bbox": "6.6,51.29,11.65,53.9", "zoom": "7"}).json()
    assert doc["numberMatched"] == sum(f["properties"]["count"] for f in doc["features"])
    assert doc["numberMatched"] >= 5


@pytest.mark.parametrize("path", ["/karte", "/planung", "/embed", "/editor", "/impressum"])
def test_pages_use_relative_urls_so_a_path_prefix_works(map_server: LiveServer, path: str) -> None:
    # Behind a proxy at /quartierskarte/ the browser resolves relative URLs under the prefix;
    # a root-absolute "/static/…" or "/nearby" would leave it.
    import re

    html = map_server.get(path).text
    absolute = re.findall(r'(?:src|href)="(/[^"]*)"', html)
    assert absolute == []
    for script in ("karte.js", "planung.js", "editor.js", "common.js"):
        body = map_server.get(f"/map-assets/{script}").text
        assert not re.search(r'"/(nearby|collections|karte/|planung/|editor/|reports)', body), script


def test_dense_point_layers_come_as_vector_tiles(map_server: LiveServer,
                                                  page_watch: tuple[Page, Watch]) -> None:
    """More points in view than GeoJSON should carry: counts per cell when zoomed out, the
    layer's vector tiles (every point, on a canvas) from zoom 11 on."""
    from tests.utils.builders import add_custom_points

    url = map_server.settings.database_url
    assert url is not None
    add_custom_points(url, "spielplaetze", [
        (9.70 + (i % 80) * 0.0006, 52.37 + (i // 80) * 0.0004, {"name": f"Dicht {i}"})
        for i in range(4000)  # above map_point_threshold (3,000)
    ])
    page, watch = page_watch
    with page.expect_response(lambda r: "/spielplaetze/tiles/WebMercatorQuad/" in r.url,
                              timeout=30000) as tile:
        page.goto(f"{map_server.url}/planung?layers=spielplaetze&lat=52.38&lon=9.725&zoom=13")
    assert tile.value.status == 200
    assert tile.value.headers["content-type"].startswith("application/vnd.mapbox-vector-tile")
    wait_loaded(page)
    page.wait_for_function("() => document.querySelectorAll('canvas.leaflet-tile').length > 0",
                           timeout=20000)
    assert page.locator(".qk-count").count() == 0  # no grid cells: the points themselves
    before = loads(page)
    page.goto(f"{map_server.url}/planung?layers=spielplaetze&lat=52.38&lon=9.725&zoom=9")
    wait_loaded(page, 0)
    # Zoomed out: counts per grid cell (as markers, clustered when they crowd), no tiles.
    page.wait_for_function("() => document.querySelectorAll('.leaflet-marker-icon').length > 0",
                           timeout=20000)
    assert page.locator("canvas.leaflet-tile").count() == 0
    assert before >= 1 and watch.errors == []
