"""Behind a TLS-terminating proxy under a path prefix: links and next pages point where the client
can follow them; forwarded headers are believed from trusted proxies only."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from tests.conftest import make_settings
from tests.utils.server import LiveServer

PUBLIC = "https://karte.landkreis-beispiel.de/quartierskarte"
#: What Caddy/nginx add when they forward https://karte.landkreis-beispiel.de/quartierskarte/…
FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "karte.landkreis-beispiel.de",
    "X-Forwarded-For": "198.51.100.23",
}


def _via_proxy(live: LiveServer, public_url: str) -> httpx.Response:
    """Forward a public URL to the app as a proxy that keeps the prefix does."""
    parts = urlsplit(public_url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC.rsplit("/quartierskarte", 1)[0]
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return live.get(target, headers=FORWARDED)


def _links(doc: dict[str, object]) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in doc["links"]}  # type: ignore[index, union-attr]


def test_links_and_next_pages_under_prefix_behind_tls(db_url: str) -> None:
    settings = make_settings(db_url, root_path="/quartierskarte")
    with LiveServer(settings) as live:
        landing = _via_proxy(live, f"{PUBLIC}/")
        assert landing.status_code == 200
        hrefs = [link["href"] for link in landing.json()["links"]]
        assert hrefs and all(h.startswith(f"{PUBLIC}/") for h in hrefs), hrefs

        collection = _via_proxy(live, f"{PUBLIC}/collections/meeting_places")
        assert collection.status_code == 200
        assert all(h.startswith(f"{PUBLIC}/") for h in _links(collection.json()).values())

        # walk every page through the `next` links, as a client behind the proxy would
        url: str | None = f"{PUBLIC}/collections/meeting_places/items?limit=2"
        ids: list[object] = []
        pages = 0
        matched = None
        while url:
            page = _via_proxy(live, url)
            assert page.status_code == 200, page.text
            doc = page.json()
            matched = doc["numberMatched"]
            ids += [f["id"] for f in doc["features"]]
            links = _links(doc)
            assert links["self"].startswith(f"{PUBLIC}/collections/meeting_places/items?")
            url = links.get("next")
            pages += 1
        assert pages >= 2
        assert len(ids) == len(set(ids)) == matched

        item = _via_proxy(live, f"{PUBLIC}/collections/meeting_places/items/{ids[0]}")
        assert item.status_code == 200
        assert _links(item.json())["self"] == f"{PUBLIC}/collections/meeting_places/items/{ids[0]}"

        # a proxy that strips the prefix (Caddy's handle_path) gets the same links
        stripped = live.get("/collections/meeting_places/items?limit=2", headers=FORWARDED)
        assert _links(stripped.json())["next"].startswith(
            f"{PUBLIC}/collections/meeting_places/items?")

        # the health checks answer under the prefix too
        assert live.get("/quartierskarte/readyz", headers=FORWARDED).status_code == 200


def test_forwarded_headers_from_untrusted_peers_are_ignored(db_url: str) -> None:
    settings = make_settings(db_url, trusted_proxies=["10.0.0.0/8"], root_path="/qk")
    with LiveServer(settings) as live:
        doc = live.get("/collections", headers=FORWARDED).json()
        hrefs = [link["href"] for link in doc["links"]]
        assert all(h.startswith(f"{live.url}/qk/") for h in hrefs), hrefs
        assert not any("landkreis-beispiel" in h or h.startswith("https") for h in hrefs)


def test_forwarded_prefix_and_hostile_host(db_url: str) -> None:
    with LiveServer(make_settings(db_url)) as live:
        doc = live.get("/collections", headers={
            **FORWARDED, "X-Forwarded-Prefix": "/karte-intern/"}).json()
        assert all(link["href"].startswith("https://karte.landkreis-beispiel.de/karte-intern/")
                   for link in doc["links"])
        hostile = live.get("/collections", headers={
            "X-Forwarded-Host": "evil.example/phish?x=", "X-Forwarded-Prefix": "/<script>"}).json()
        assert all(link["href"].startswith(f"{live.url}/collections") or
                   link["href"].startswith(f"{live.url}/")
                   for link in hostile["links"])
        assert not any("evil" in link["href"] or "script" in link["href"]
                       for link in hostile["links"])
