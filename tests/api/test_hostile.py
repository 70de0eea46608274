"""Hostile input: every answer a 4xx with a message, nothing written, never a 500."""

from __future__ import annotations

import pytest

from geo_service.auth import create_key
from tests.utils.builders import count
from tests.utils.server import LiveServer

INJECTIONS = ["' OR '1'='1", "1; DROP TABLE meeting_places; --", "\") OR 1=1 --",
              "name'); DELETE FROM meeting_places; --", "%' UNION SELECT secret_hash FROM api_keys --"]


def _feature(geometry: object, **props: object) -> dict[str, object]:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"name": "Treff", "kind": "Nachbarschaftstreff", **props}}


POINT = {"type": "Point", "coordinates": [10.5622, 52.4765]}
BAD_FEATURES = {
    "self-intersecting polygon": {"type": "Feature", "properties": {"name": "Bowtie"},
                                  "geometry": {"type": "Polygon", "coordinates": [
                                      [[10.5, 52.4], [10.6, 52.5], [10.6, 52.4], [10.5, 52.5], [10.5, 52.4]]]}},
    "wrong geometry type": _feature({"type": "LineString", "coordinates": [[10.5, 52.4], [10.6, 52.5]]}),
    "coordinates in Brazil": _feature({"type": "Point", "coordinates": [-47.93, -15.78]}),
    "broken coordinates": _feature({"type": "Point", "coordinates": ["x", None]}),
    "unclosed ring": _feature({"type": "Polygon", "coordinates": [[[10.5, 52.4], [10.6, 52.5], [10.6, 52.4]]]}),
    "enum injection": _feature(POINT, kind=INJECTIONS[1]),
    "url scheme": _feature(POINT, website="javascript:alert(1)"),
    "nested property": _feature(POINT, name={"$gt": ""}),
    "missing name": {"type": "Feature", "geometry": POINT, "properties": {"kind": "Café"}},
    "not a feature": {"type": "FeatureCollection", "features": []},
    "opening hours": _feature(POINT, opening_hours="immer offen; DROP"),
    "language code": _feature(POINT, languages=["xx' OR 1=1"]),
}


@pytest.fixture(scope="module")
def target(pg_cluster):  # type: ignore[no-untyped-def]
    from tests.conftest import make_settings

    url = pg_cluster.create_database()
    key = create_key(url, role="admin", layers=[], districts=[], organisation=None, label="hostile")
    try:
        with LiveServer(make_settings(url)) as live:
            yield live, url, {"Authorization": f"Bearer {key.token}"}
    finally:
        pg_cluster.drop_database(url)


def _rows(url: str) -> tuple[int, int, int]:
    return (count(url, "SELECT count(*) FROM meeting_places"), count(url, "SELECT count(*) FROM features"),
            count(url, "SELECT count(*) FROM history"))


@pytest.mark.parametrize("case", sorted(BAD_FEATURES))
def test_bad_features_are_rejected_and_nothing_written(target, case: str) -> None:  # type: ignore[no-untyped-def]
    live, url, key = target
    layer = "spielplaetze" if case == "self-intersecting polygon" else "meeting_places"
    before = _rows(url)
    response = live.client.post(f"/collections/{layer}/items", json=BAD_FEATURES[case], headers=key)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert len(response.json()["detail"]) > 10
    assert _rows(url) == before


def test_self_intersection_is_named_with_its_location(target) -> None:  # type: ignore[no-untyped-def]
    live, _, key = target
    bowtie = dict(BAD_FEATURES["self-intersecting polygon"])
    bowtie["geometry"] = {"type": "Point", "coordinates": [10.55, 52.45]}
    # The layer is a Point layer; send the bow-tie to the offers layer, which takes areas.
    offer = {"type": "Feature", "geometry": BAD_FEATURES["self-intersecting polygon"]["geometry"],
             "properties": {"title": "Fläche", "category": "Beratung"}}
    detail = live.client.post("/collections/offers/items", json=offer, headers=key).json()["detail"]
    assert "10.55" in detail and "52.45" in detail


def test_raw_bodies_oversized_nested_and_broken(target) -> None:  # type: ignore[no-untyped-def]
    live, url, key = target
    before = _rows(url)
    path = "/collections/meeting_places/items"
    json_headers = {**key, "Content-Type": "application/json"}
    huge = b'{"type":"Feature","properties":{"name":"' + b"x" * (50 * 1024 * 1024) + b'"}}'
    responses = {
        "50 MB": live.client.post(path, content=huge, headers=json_headers),
        "deep nesting": live.client.post(path, content=b"[" * 100_000 + b"]" * 100_000, headers=json_headers),
        "deep object": live.client.post(path, content=(b'{"a":' * 5000) + b"1" + b"}" * 5000,
                                        headers=json_headers),
        "broken UTF-8": live.client.post(path, content=b'{"type":"Feature","properties":{"name":"\xff\xfe"}}',
                                         headers=json_headers),
        "not JSON": live.client.post(path, content=b"<xml/>", headers=json_headers),
        "wrong media type": live.client.post(path, content=b"name=x", headers={
            **key, "Content-Type": "application/x-www-form-urlencoded"}),
        "empty": live.client.post(path, content=b"", headers=json_headers),
        "infinite coordinate": live.client.post(path, headers=json_headers, content=(
            b'{"type":"Feature","properties":{"name":"x","kind":"Caf\\u00e9"},'
            b'"geometry":{"type":"Point","coordinates":[1e400,52.0]}}')),
        "NaN coordinate": live.client.post(path, headers=json_headers, content=(
            b'{"type":"Feature","properties":{"name":"x","kind":"Caf\\u00e9"},'
            b'"geometry":{"type":"Point","coordinates":[NaN,52.0]}}')),
    }
    for case, response in responses.items():
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:200])
    assert responses["50 MB"].status_code == 413
    assert _rows(url) == before


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_in_query_parameters(target, value: str) -> None:  # type: ignore[no-untyped-def]
    live, url, _ = target
    before = _rows(url)
    for path, params in [
        ("/collections/meeting_places/items", {"name": value}),
        ("/collections/meeting_places/items", {"bbox": value}),
        ("/collections/meeting_places/items", {"sortby": value}),
        ("/collections/meeting_places/items", {"properties": value}),
        ("/collections/meeting_places/items", {"crs": value}),
        ("/collections/meeting_places/items", {"datetime": value}),
        ("/collections/meeting_places/items", {"limit": value}),
        ("/collections/meeting_places/items", {"filter": value}),
        ("/collections/meeting_places/items", {"filter": f"name = '{value}'"}),
        ("/collections/offers/items", {"languages": value}),
        ("/nearby", {"lon": "10", "lat": "52", "category": value, "language": value, "kind": value}),
        (f"/collections/{value}/items", {}),
        ("/collections/meeting_places/items/" + value, {}),
    ]:
        response = live.client.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text[:200])
    assert _rows(url) == before


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_in_properties_are_stored_as_text(target, value: str) -> None:  # type: ignore[no-untyped-def]
    live, url, key = target
    made = live.client.post("/collections/meeting_places/items", headers=key,
                            json=_feature(POINT, name=value, description=value))
    assert made.status_code == 201, made.text
    stored = live.client.get(f"/collections/meeting_places/items/{made.json()['id']}").json()
    assert stored["properties"]["name"] == value
    assert count(url, "SELECT count(*) FROM api_keys") >= 1  # nothing dropped or deleted
