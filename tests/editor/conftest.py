"""Browser fixtures of the editor tests: the maps tests' Chromium, tile server and guarded pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.conftest import ROOT, make_settings
from tests.maps.conftest import browser, tile_url  # noqa: F401  (fixtures, re-exported)
from tests.utils.server import LiveServer

OUTPUT = ROOT / "test-output" / "editor"


@pytest.fixture(scope="module")
def editor_server(module_db_url: str, tile_url: str) -> Iterator[LiveServer]:  # noqa: F811
    """The shipped settings with the basemap on the local tile server."""
    with LiveServer(make_settings(module_db_url, basemap_url=tile_url)) as live:
        yield live


def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png")
    page.screenshot(path=str(path), full_page=False)
    return path
