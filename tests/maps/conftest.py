"""Browser fixtures: Debian's Chromium driven by Playwright, a local tile server, one service
per module. Every request that would leave 127.0.0.1 is blocked and fails the test."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ROOT, make_settings
from tests.utils.server import LiveServer

OUTPUT = ROOT / "test-output" / "maps"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
def _png() -> bytes:
    """A transparent 1x1 PNG: the basemap tile in tests."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00")) + chunk(b"IEND", b""))


PNG = _png()


class _Tiles(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        try:
            self.wfile.write(PNG)
        except ConnectionError:
            pass  # the page moved on and Leaflet cancelled the tile

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def tile_url() -> Iterator[str]:
    """A real HTTP tile server on loopback answering every tile with a 1x1 PNG."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    httpd.shutdown()


@pytest.fixture(scope="module")
def map_server(module_db_url: str, tile_url: str) -> Iterator[LiveServer]:
    """The shipped settings except the basemap (local tiles) and the test clock (``?now=``)."""
    settings = make_settings(module_db_url, basemap_url=tile_url, map_clock_override=True)
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that it should not: console errors, outside requests, JS dialogs."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def open_page(browser: Browser, *, locale: str = "de-DE", width: int = 1280,
              height: int = 900) -> tuple[Page, Watch]:
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height},
                                  accept_downloads=True)
    watch = Watch()

    def guard(route, request):  # type: ignore[no-untyped-def]
        if _loopback(request.url):
            route.continue_()
        else:
            watch.outside.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("console", lambda msg: watch.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))

    def on_dialog(dialog):  # type: ignore[no-untyped-def]
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page, watch


@pytest.fixture
def page_watch(browser: Browser, request: pytest.FixtureRequest) -> Iterator[tuple[Page, Watch]]:
    page, watch = open_page(browser)
    yield page, watch
    screenshot(page, request.node.name)
    page.context.close()
    assert watch.outside == [], f"requests left 127.0.0.1: {watch.outside}"


def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png")
    page.screenshot(path=str(path), full_page=False)
    return path


def loads(page: Page) -> int:
    return int(page.evaluate("Number(document.body.getAttribute('data-loads') || 0)"))


def wait_loaded(page: Page, after: int = 0) -> None:
    """Until the page's script finished loading data ``after`` times (the data-loads counter)."""
    page.wait_for_function(
        f"() => Number(document.body.getAttribute('data-loads') || 0) > {after}", timeout=20000)
