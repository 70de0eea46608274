"""One policy for every HTML page, from the attacker's side: every text/html answer of the
running service — map pages, editor, legal pages, the API's HTML views found by following
their links, the API documentation — carries the same Content-Security-Policy, nosniff,
framing rule and Referrer-Policy; Swagger UI still works under it in Chromium."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import Browser

from tests.maps.conftest import open_page, screenshot
from tests.utils.server import LiveServer

PAGES = ["/", "/?f=html", "/collections", "/collections?f=html", "/conformance?f=html",
         "/collections/meeting_places?f=html", "/collections/meeting_places/items?f=html",
         "/api.html", "/karte", "/karte?lang=ar", "/planung", "/embed", "/editor",
         "/impressum", "/datenschutz", "/barrierefreiheit"]


def _policy(csp: str) -> dict[str, str]:
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    return {name: re.sub(r"'nonce-[^']+'", "'nonce'", value) for name, value in directives.items()}


def _html_pages(live: LiveServer) -> set[str]:
    """The listed pages plus every HTML page the API's HTML views link to (two levels deep)."""
    found, queue = set(PAGES), list(PAGES[:7])
    for _ in range(2):
        next_queue = []
        for path in queue:
            page = live.get(path, headers={"Accept": "text/html"})
            for href in re.findall(r'href="([^"]+)"', page.text):
                url = urlsplit(urljoin(live.url + path, href.replace("&amp;", "&")))
                target = url.path + (f"?{url.query}" if url.query else "")
                if url.netloc == urlsplit(live.url).netloc and target not in found \
                        and not url.path.startswith(("/static", "/map-assets")):
                    found.add(target)
                    next_queue.append(target)
        queue = next_queue
    return found


def test_every_html_page_has_the_same_policy(map_server: LiveServer) -> None:
    pages = _html_pages(map_server)
    assert len(pages) > 30, pages  # the crawl reached items and single features
    policies = {}
    for path in sorted(pages):
        answer = map_server.get(path, headers={"Accept": "text/html"})
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue  # a JSON or file link
        assert answer.status_code == 200, (path, answer.status_code)
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        policy = _policy(headers["content-security-policy"])
        assert policy["script-src"] == "'self' 'nonce'", (path, policy)
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", path
        if urlsplit(path).path == "/embed":  # framed by the configured sites only
            assert policy["frame-ancestors"] == map_server.settings.embed_frame_ancestors
            assert "x-frame-options" not in headers
        else:
            assert policy["frame-ancestors"] == "'none'", path
            assert headers["x-frame-options"] == "DENY", path
        policies[path] = {k: v for k, v in policy.items() if k != "frame-ancestors"}
    assert len(policies) > 30
    assert len({tuple(sorted(p.items())) for p in policies.values()}) == 1, "policies differ"
    # Every answer, not only HTML, forbids content sniffing (errors from the limits too).
    for path in ("/collections", "/collections/nope", "/static/vendor/leaflet/leaflet.js",
                 "/planung/export/meeting_places?bbox=9,52,9.1,52.1&format=csv"):
        assert map_server.get(path).headers["x-content-type-options"] == "nosniff", path


def test_swagger_ui_works_under_the_policy(map_server: LiveServer, browser: Browser) -> None:
    page, watch = open_page(browser)
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text)
            if "Content Security Policy" in msg.text else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + "
                         "e.blockedURI))")
    answer = page.goto(f"{map_server.url}/api.html")
    assert answer is not None and "content-security-policy" in answer.headers
    page.wait_for_selector(".swagger-ui .info .title", timeout=30000)
    page.wait_for_selector(".opblock-summary-path", timeout=30000)
    paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.innerText)")
    assert any("/collections/meeting_places/items" in p.replace("\u200b", "") for p in paths), paths
    assert "Quartierskarte" in page.inner_text(".swagger-ui .info .title")
    # Try one operation as a user would: the request goes to the service itself.
    page.locator(".opblock-summary-path", has_text="/conformance").first.click()
    page.locator(".try-out__btn").first.click()
    page.locator(".execute").first.click()
    page.wait_for_selector(".responses-table .response-col_status", timeout=30000)
    assert "200" in page.inner_text(".live-responses-table")
    screenshot(page, "swagger_ui_under_csp")
    assert page.evaluate("window.__csp || []") == [] and violations == [], violations
    assert watch.errors == [] and watch.outside == []
    page.context.close()
