"""Strong ETags on collection responses: from the layer's last change and the normalised query."""

from __future__ import annotations

from tests.utils.builders import add_custom_points
from tests.utils.server import LiveServer

ITEMS = "/collections/spielplaetze/items"


def test_items_carry_a_strong_etag_and_revalidate(server: LiveServer, db_url: str) -> None:
    first = server.get(ITEMS, params={"limit": 5, "sortby": "name"})
    etag = first.headers["etag"]
    assert etag.startswith('"')  # strong: the same data and query give the same bytes
    assert "public" in first.headers["cache-control"] and "max-age" in first.headers["cache-control"]
    assert "Accept-Encoding" in first.headers["vary"]
    again = server.get(ITEMS, params={"limit": 5, "sortby": "name"})
    assert again.headers["etag"] == etag and again.content == first.content
    # The query is normalised: the same parameters in another order are the same response.
    reordered = server.get(ITEMS, params={"sortby": "name", "limit": 5},
                           headers={"If-None-Match": etag})
    assert reordered.status_code == 304 and reordered.content == b""
    assert server.get(ITEMS, params={"limit": 6}).headers["etag"] != etag
    # Another content coding is another representation, with its own tag.
    plain = server.get(ITEMS, params={"limit": 5, "sortby": "name"},
                       headers={"Accept-Encoding": "identity"})
    assert plain.headers["etag"] != etag
    add_custom_points(db_url, "spielplaetze", [(9.9, 52.3, {"name": "Neuer Platz"})])
    changed = server.get(ITEMS, params={"limit": 5, "sortby": "name"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_a_change_to_another_layer_keeps_the_tag(server: LiveServer, db_url: str) -> None:
    etag = server.get("/collections/quartiers/items").headers["etag"]
    add_custom_points(db_url, "spielplaetze", [(9.9, 52.3, {"name": "Anderswo"})])
    assert server.get("/collections/quartiers/items",
                      headers={"If-None-Match": etag}).status_code == 304


def test_single_items_keep_their_own_tags(module_server: LiveServer) -> None:
    feature = module_server.get("/collections/meeting_places/items?limit=1").json()["features"][0]
    path = f"/collections/meeting_places/items/{feature['id']}"
    first = module_server.get(path)
    assert module_server.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
