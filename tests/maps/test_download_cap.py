""""Download what I see" when the view holds more than one file may: the planner is told, in
Chromium, how many items the file holds and that zooming in gets the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.conftest import make_settings
from tests.maps.conftest import Watch, wait_loaded
from tests.utils.server import LiveServer


@pytest.fixture
def capped_server(db_url: str, tile_url: str) -> Iterator[LiveServer]:
    """The shipped settings except the basemap and a cap the test names: two features."""
    with LiveServer(make_settings(db_url, basemap_url=tile_url, export_max_features=2)) as live:
        yield live


def test_the_page_says_when_the_cap_cut_the_view(capped_server: LiveServer,
                                                  page_watch: tuple[Page, Watch]) -> None:
    page, watch = page_watch
    page.goto(f"{capped_server.url}/planung?lat=52.6&lon=9.4&zoom=7")
    wait_loaded(page)
    page.select_option("#dl-layer", "meeting_places")
    with page.expect_download() as info:
        page.click("#download button[type=submit]")
    doc = json.loads(open(info.value.path(), encoding="utf-8").read())
    assert len(doc["features"]) == 2
    page.wait_for_function("() => document.getElementById('status').textContent.includes('2')")
    note = page.inner_text("#status")
    assert "nur die ersten 2" in note and "zoomen Sie hinein" in note, note
    assert watch.errors == []
