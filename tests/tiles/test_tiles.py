"""OGC API – Tiles over the running server: decoded vector tiles, zoom limits, the feature cap, ETags."""

from __future__ import annotations

import mapbox_vector_tile
import morecantile
import pytest

from tests.conftest import make_settings
from tests.utils.builders import add_custom_points, add_meeting_place
from tests.utils.server import LiveServer

MVT = "application/vnd.mapbox-vector-tile"
TMS = morecantile.tms.get("WebMercatorQuad")


def _tile_url(layer: str, lon: float, lat: float, z: int) -> str:
    tile = TMS.tile(lon, lat, z)
    return f"/collections/{layer}/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}"


def _decode(body: bytes) -> dict:  # type: ignore[type-arg]
    return mapbox_vector_tile.decode(body) if body else {}


def test_tile_holds_the_features_with_their_public_properties(server: LiveServer, db_url: str) -> None:
    place = add_meeting_place(db_url, name="Kacheltreff", lon=10.5512, lat=52.4803, kind="Café",
                              town="Gifhorn", languages=["de", "uk"], contact_person="Erika Muster",
                              description="Lange Beschreibung, nicht in Kacheln")
    far = add_meeting_place(db_url, name="Weit weg", lon=8.0, lat=53.0)
    response = server.get(_tile_url("meeting_places", 10.5512, 52.4803, 14))
    assert response.status_code == 200
    assert response.headers["content-type"] == MVT
    layer = _decode(response.content)["meeting_places"]
    features = {f["id"]: f for f in layer["features"]}
    assert place in features and far not in features
    props = features[place]["properties"]
    assert props["name"] == "Kacheltreff" and props["kind"] == "Café" and props["town"] == "Gifhorn"
    assert props["languages"] == "de,uk"
    # Tiles carry the popup's public properties: no personal data, no long texts.
    assert "contact_person" not in props and "description" not in props
    assert features[place]["geometry"]["type"] == "Point"
    x, y = features[place]["geometry"]["coordinates"]
    assert 0 <= x <= layer["extent"] and 0 <= y <= layer["extent"]


def test_polygon_layer_tiles_and_custom_layers(module_server: LiveServer) -> None:
    quartier = module_server.get("/collections/quartiers/items?limit=1").json()["features"][0]
    lon, lat = quartier["geometry"]["coordinates"][0][0][0]
    layer = _decode(module_server.get(_tile_url("quartiers", lon, lat, 12)).content)["quartiers"]
    found = {f["id"]: f for f in layer["features"]}
    assert quartier["id"] in found
    assert found[quartier["id"]]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert found[quartier["id"]]["properties"]["name"] == quartier["properties"]["name"]


def test_custom_layer_tile_and_feature_cap(pg_cluster, db_url: str) -> None:  # type: ignore[no-untyped-def]
    add_custom_points(db_url, "spielplaetze", [
        (9.70 + (i % 20) * 0.0005, 52.37 + (i // 20) * 0.0005, {"name": f"Kachelspielplatz {i}",
                                                                 "age_group": "0-6"})
        for i in range(300)
    ])
    with LiveServer(make_settings(db_url, tile_max_features=100)) as live:
        full = _decode(live.get(_tile_url("spielplaetze", 9.705, 52.375, 13)).content)["spielplaetze"]
        items = live.get("/collections/spielplaetze/items", params={
            "bbox": "9.699,52.369,9.711,52.378", "limit": 1000}).json()["features"]
    ids = sorted(f["id"] for f in items)
    assert len(ids) >= 300
    got = sorted(f["id"] for f in full["features"])
    # At most the cap, and always the same ones: the lowest ids.
    assert got == ids[:100]
    assert all(f["properties"]["age_group"] == "0-6" for f in full["features"])


@pytest.mark.parametrize(("path", "status"), [
    ("/collections/meeting_places/tiles/WebMercatorQuad/25/0/0", 404),
    ("/collections/meeting_places/tiles/WebMercatorQuad/19/0/0", 404),  # above the layer's max_zoom
    ("/collections/meeting_places/tiles/WebMercatorQuad/3/8/0", 404),
    ("/collections/meeting_places/tiles/WebMercatorQuad/3/0/-1", 404),
    ("/collections/meeting_places/tiles/WebMercatorQuad/3/a/0", 400),
    ("/collections/meeting_places/tiles/WorldCRS84Quad/3/0/0", 404),
    ("/collections/nowhere/tiles/WebMercatorQuad/3/0/0", 404),
    ("/tileMatrixSets/Nope", 404),
])
def test_bad_tile_requests_get_ogc_exceptions(module_server: LiveServer, path: str, status: int) -> None:
    response = module_server.get(path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] and len(body["detail"]) > 10


def test_empty_tile_is_an_empty_body(module_server: LiveServer) -> None:
    response = module_server.get(_tile_url("meeting_places", -40.0, 10.0, 10))  # the Atlantic
    assert response.status_code == 200 and response.content == b""


def test_tile_etag_revalidation_and_change(server: LiveServer, db_url: str) -> None:
    url = _tile_url("meeting_places", 10.55, 52.48, 12)
    first = server.get(url)
    etag = first.headers["etag"]
    assert not etag.startswith("W/")  # the same data gives the same bytes: a strong tag
    assert "max-age" in first.headers["cache-control"]
    again = server.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    add_meeting_place(db_url, name="Neu in der Kachel", lon=10.551, lat=52.481)
    changed = server.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    names = {f["properties"]["name"] for f in _decode(changed.content)["meeting_places"]["features"]}
    assert "Neu in der Kachel" in names


def test_tileset_metadata_is_tilejson_and_ogc(module_server: LiveServer) -> None:
    listing = module_server.get("/collections/meeting_places/tiles").json()
    assert listing["tilesets"][0]["dataType"] == "vector"
    doc = module_server.get("/collections/meeting_places/tiles/WebMercatorQuad").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].endswith("/collections/meeting_places/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert doc["minzoom"] == 0 and doc["maxzoom"] == 18
    fields = doc["vector_layers"][0]["fields"]
    assert fields["name"] == "String" and "contact_person" not in fields
    minx, miny, maxx, maxy = doc["bounds"]
    assert 6.6 < minx <= maxx < 11.7 and 51.2 < miny <= maxy < 54
    rels = {link["rel"] for link in doc["links"]}
    assert {"self", "item", "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"} <= rels
    collection = module_server.get("/collections/meeting_places").json()
    assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector" in {l["rel"] for l in collection["links"]}
    conformance = module_server.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance


def test_tile_matrix_sets(module_server: LiveServer) -> None:
    listing = module_server.get("/tileMatrixSets").json()
    assert [t["id"] for t in listing["tileMatrixSets"]] == ["WebMercatorQuad"]
    tms = module_server.get("/tileMatrixSets/WebMercatorQuad").json()
    assert tms["id"] == "WebMercatorQuad" and len(tms["tileMatrices"]) == 25
