"""Real clients against the running server: OWSLib and GDAL's OAPIF driver (through pyogrio)."""

from __future__ import annotations

import pyogrio
from owslib.ogcapi.features import Features

from tests.utils.builders import add_custom_points
from tests.utils.server import LiveServer


def test_owslib_lists_collections_and_reads_items_with_bbox(module_server: LiveServer) -> None:
    api = Features(module_server.url + "/")
    ids = [c["id"] for c in api.collections()["collections"]]
    assert {"quartiers", "meeting_places", "offers", "projects"} <= set(ids)
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    items = api.collection_items("meeting_places", bbox=[10.4, 52.4, 10.7, 52.6], limit=50)
    assert items["features"]
    assert all(f["properties"]["town"] == "Gifhorn" for f in items["features"])
    queryables = api.collection_queryables("meeting_places")
    assert "name" in queryables["properties"]


def test_gdal_oapif_follows_next_links_and_reads_every_feature_once(server: LiveServer,
                                                                      db_url: str) -> None:
    add_custom_points(db_url, "spielplaetze", [
        (9.5 + (i % 50) * 0.01, 52.0 + (i // 50) * 0.01, {"name": f"Spielplatz {i}"})
        for i in range(230)
    ])
    matched = server.get("/collections/spielplaetze/items?limit=1").json()["numberMatched"]
    # A page smaller than the layer: GDAL must follow the next links.
    frame = pyogrio.read_dataframe(f"OAPIF:{server.url}", layer="spielplaetze",
                                   PAGE_SIZE="40")  # an OAPIF open option
    assert matched >= 230
    assert len(frame) == matched
    assert frame["name"].is_unique
    assert frame.geometry.geom_type.eq("Point").all()
