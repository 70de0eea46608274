"""OGC API – Features over the running server: documents, items, filters, CRS, errors, caching."""

from __future__ import annotations

import gzip

import pyproj
import pytest

from tests.utils.builders import add_custom_points, add_meeting_place
from tests.utils.server import LiveServer

GEOJSON = "application/geo+json"


def test_landing_page_links_to_api_conformance_and_data(module_server: LiveServer) -> None:
    doc = module_server.get("/").json()
    rels = {link["rel"] for link in doc["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= rels
    conformance = module_server.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance


def test_every_registered_layer_is_a_collection_with_extent_and_titles(module_server: LiveServer) -> None:
    layers = [layer["id"] for layer in module_server.get("/layers").json()["layers"]]
    collections = module_server.get("/collections").json()["collections"]
    assert [c["id"] for c in collections] == layers
    offers = module_server.get("/collections/offers").json()
    assert offers["titles"] == {"de": "Angebote", "en": "Offers"}
    assert "temporal" in offers["extent"]
    places = module_server.get("/collections/meeting_places").json()
    minx, miny, maxx, maxy = places["extent"]["spatial"]["bbox"][0]
    assert 6.6 < minx <= maxx < 11.7 and 51.2 < miny <= maxy < 54
    english = module_server.get("/collections/offers", headers={"Accept-Language": "en"}).json()
    assert english["title"] == "Offers"


def test_items_are_geojson_with_counts_and_links(module_server: LiveServer) -> None:
    response = module_server.get("/collections/meeting_places/items", params={"limit": 2})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    doc = response.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == len(doc["features"]) == 2
    assert doc["numberMatched"] >= 5
    assert "next" in {link["rel"] for link in doc["links"]}
    feature = doc["features"][0]
    assert feature["geometry"]["type"] == "Point"
    # Personal data is public only with a recorded consent: the demo data has none.
    assert feature["properties"]["contact_person"] is None


def test_paging_visits_every_feature_once(module_server: LiveServer) -> None:
    url = "/collections/meeting_places/items?limit=3"
    seen: list[int] = []
    matched = None
    while url:
        doc = module_server.get(url).json()
        matched = doc["numberMatched"]
        seen += [f["id"] for f in doc["features"]]
        url = next((link["href"] for link in doc["links"] if link["rel"] == "next"), "")
    assert len(seen) == matched == len(set(seen))


def test_bbox_in_utm_and_crs84_select_the_same_features(module_server: LiveServer) -> None:
    box = (10.50, 52.45, 10.60, 52.52)  # Gifhorn
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True)
    xs, ys = to_utm.transform([box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
    utm = (min(xs), min(ys), max(xs), max(ys))
    a = module_server.get("/collections/meeting_places/items",
                          params={"bbox": ",".join(map(str, box))}).json()
    b = module_server.get("/collections/meeting_places/items", params={
        "bbox": ",".join(f"{v:.2f}" for v in utm),
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/25832"}).json()
    ids_a = {f["id"] for f in a["features"]}
    assert ids_a and ids_a == {f["id"] for f in b["features"]}
    # EPSG:4326 as a bbox-crs means latitude first.
    c = module_server.get("/collections/meeting_places/items", params={
        "bbox": f"{box[1]},{box[0]},{box[3]},{box[2]}",
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}).json()
    assert {f["id"] for f in c["features"]} == ids_a


def test_output_axis_order_follows_the_crs(module_server: LiveServer) -> None:
    first = module_server.get("/collections/meeting_places/items?limit=1").json()["features"][0]
    lon, lat = first["geometry"]["coordinates"]
    path = f"/collections/meeting_places/items/{first['id']}"
    epsg4326 = module_server.get(path, params={"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})
    assert epsg4326.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    assert epsg4326.json()["geometry"]["coordinates"] == [lat, lon]
    utm = module_server.get(path, params={"crs": "EPSG:25832"}).json()["geometry"]["coordinates"]
    expected = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:25832", always_xy=True).transform(lon, lat)
    assert utm == pytest.approx(list(expected), abs=0.2)
    assert 3.0e5 < utm[0] < 1.0e6 and 5.6e6 < utm[1] < 6.1e6


def test_property_filters_cql2_and_sorting(module_server: LiveServer) -> None:
    offers = module_server.get("/collections/offers/items?limit=1000").json()["features"]
    category = offers[0]["properties"]["category"]
    expected = sorted(f["id"] for f in offers if f["properties"]["category"] == category)
    by_param = module_server.get("/collections/offers/items", params={"category": category}).json()
    assert sorted(f["id"] for f in by_param["features"]) == expected
    by_text = module_server.get("/collections/offers/items",
                                params={"filter": f"category = '{category}'"}).json()
    assert sorted(f["id"] for f in by_text["features"]) == expected
    by_json = module_server.get("/collections/offers/items", params={
        "filter-lang": "cql2-json",
        "filter": '{"op":"=","args":[{"property":"category"},"%s"]}' % category}).json()
    assert sorted(f["id"] for f in by_json["features"]) == expected
    languages = module_server.get("/collections/offers/items", params={"languages": "uk"}).json()
    assert all("uk" in f["properties"]["languages"] for f in languages["features"])
    in_box = module_server.get("/collections/meeting_places/items", params={
        "filter": "S_INTERSECTS(geometry, BBOX(10.4, 52.4, 10.7, 52.6))"}).json()
    assert {f["properties"]["town"] for f in in_box["features"]} == {"Gifhorn"}
    names = [f["properties"]["name"] for f in module_server.get(
        "/collections/meeting_places/items", params={"sortby": "-name"}).json()["features"]]
    assert names == sorted(names, reverse=True)
    only = module_server.get("/collections/meeting_places/items",
                             params={"properties": "name,town", "limit": 1}).json()
    assert set(only["features"][0]["properties"]) == {"name", "town"}


def test_datetime_selects_offers_on_that_day(module_server: LiveServer) -> None:
    doc = module_server.get("/collections/offers/items", params={"datetime": "2024-08-19"}).json()
    titles = [f["properties"]["title"] for f in doc["features"]]
    assert any("Netzwerktreffen" in t for t in titles)
    before = module_server.get("/collections/offers/items", params={
        "datetime": "../2024-08-18T23:59:59Z", "filter": "title LIKE '%Netzwerktreffen%'"}).json()
    assert before["numberMatched"] == 0


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/collections/nowhere/items", {}, 404),
    ("/collections/meeting_places/items/999999", {}, 404),
    ("/collections/meeting_places/items/abc", {}, 404),
    ("/collections/meeting_places/items", {"bbox": "1,2,3"}, 400),
    ("/collections/meeting_places/items", {"bbox": "10,53,9,52"}, 400),
    ("/collections/meeting_places/items", {"bbox": "a,b,c,d"}, 400),
    ("/collections/meeting_places/items", {"limit": "0"}, 400),
    ("/collections/meeting_places/items", {"limit": "100001"}, 400),
    ("/collections/meeting_places/items", {"crs": "EPSG:9999"}, 400),
    ("/collections/meeting_places/items", {"colour": "red"}, 400),
    ("/collections/meeting_places/items", {"filter": "name = "}, 400),
    ("/collections/meeting_places/items", {"filter": "nosuch = 1"}, 400),
    ("/collections/meeting_places/items", {"filter": "name = 1; DROP TABLE meeting_places"}, 400),
    ("/collections/meeting_places/items", {"sortby": "contact_person"}, 400),
    ("/collections/meeting_places/items", {"properties": "contact_person"}, 400),
    ("/collections/meeting_places/items", {"datetime": "2024-01-01"}, 400),
    ("/collections/offers/items", {"datetime": "yesterday"}, 400),
    ("/collections/offers/items", {"free": "vielleicht"}, 400),
    ("/collections/meeting_places/items", {"f": "xml"}, 400),
])
def test_bad_requests_get_ogc_exceptions(module_server: LiveServer, path: str,
                                          params: dict[str, str], status: int) -> None:
    response = module_server.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] and len(body["detail"]) > 10


def test_sql_injection_strings_change_nothing(module_server: LiveServer) -> None:
    before = module_server.get("/collections/meeting_places/items").json()["numberMatched"]
    for value in ["' OR 1=1 --", "x'); DROP TABLE meeting_places; --", "\\'; SELECT pg_sleep(1)"]:
        response = module_server.get("/collections/meeting_places/items", params={"name": value})
        assert response.status_code == 200 and response.json()["numberMatched"] == 0
        response = module_server.get("/collections/meeting_places/items",
                                     params={"filter": f"name = '{value}'"})
        assert response.status_code in (200, 400)
    assert module_server.get("/collections/meeting_places/items").json()["numberMatched"] == before


def test_etag_revalidation_and_change(server: LiveServer, db_url: str) -> None:
    first = server.get("/collections/meeting_places/items")
    etag = first.headers["etag"]
    assert first.headers["last-modified"] and "max-age" in first.headers["cache-control"]
    again = server.get("/collections/meeting_places/items", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    add_meeting_place(db_url, name="Neuer Treff", lon=10.55, lat=52.48)
    changed = server.get("/collections/meeting_places/items", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_gzip_and_cors(pg_cluster, db_url: str) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    with LiveServer(make_settings(db_url, cors_origins=["https://www.gifhorn.de"])) as live:
        response = live.client.get("/collections/meeting_places/items?limit=100",
                                   headers={"Accept-Encoding": "gzip", "Origin": "https://www.gifhorn.de"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["access-control-allow-origin"] == "https://www.gifhorn.de"
        raw = live.client.stream("GET", "/collections/meeting_places/items?limit=100",
                                 headers={"Accept-Encoding": "gzip"})
        with raw as stream:
            body = b"".join(stream.iter_raw())
        assert gzip.decompress(body).startswith(b'{"type":"FeatureCollection"')
        other = live.client.get("/collections", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_html_views_escape_data(server: LiveServer, db_url: str) -> None:
    add_meeting_place(db_url, name="<img src=x onerror=alert(1)>", lon=10.55, lat=52.48)
    page = server.get("/collections/meeting_places/items", params={"f": "html", "limit": 1000})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert server.get("/collections", headers={"Accept": "text/html"}).text.startswith("<!doctype html>")


def test_custom_layer_served_from_generic_table(server: LiveServer, db_url: str) -> None:
    add_custom_points(db_url, "spielplaetze", [
        (10.54, 52.48, {"name": "Spielplatz Testweg", "age_group": "0-6", "wheelchair": "yes"}),
        (9.95, 52.16, {"name": "Spielplatz Hildesheim Test", "age_group": "6-12"}),
    ])
    doc = server.get("/collections/spielplaetze/items", params={"age_group": "0-6"}).json()
    names = {f["properties"]["name"] for f in doc["features"]}
    assert "Spielplatz Testweg" in names and "Spielplatz Hildesheim Test" not in names
    filtered = server.get("/collections/spielplaetze/items",
                          params={"filter": "age_group IN ('6-12') AND wheelchair IS NULL"}).json()
    assert "Spielplatz Hildesheim Test" in {f["properties"]["name"] for f in filtered["features"]}


def test_large_pages_are_streamed_completely(server: LiveServer, db_url: str) -> None:
    add_custom_points(db_url, "spielplaetze", [
        (9.0 + i * 0.0005, 52.3, {"name": f"Spielplatz {i}"}) for i in range(2500)
    ])
    response = server.get("/collections/spielplaetze/items", params={"limit": 3000})
    doc = response.json()
    assert doc["numberReturned"] == len(doc["features"]) == doc["numberMatched"] >= 2500
    assert "content-length" not in response.headers or response.headers.get("transfer-encoding")
