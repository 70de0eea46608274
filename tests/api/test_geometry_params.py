"""Coordinate precision and simplification of items (precision, simplify, zoom)."""

from __future__ import annotations

import psycopg
import pytest

from tests.utils.server import LiveServer


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


def _positions(coords: list) -> list[list[float]]:  # type: ignore[type-arg]
    if coords and isinstance(coords[0], (int, float)):
        return [coords]
    return [p for part in coords for p in _positions(part)]


def _ring_sizes(geometry: dict) -> int:  # type: ignore[type-arg]
    return len(_positions(geometry["coordinates"]))


@pytest.fixture
def round_quartier(db_url: str) -> int:
    """A quartier drawn as a circle of about 1 km radius with 360 vertices."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "INSERT INTO quartiers (name, municipality, district, source, licence, geom) "
            "VALUES ('Rundling', 'Testdorf', 'Testkreis', 'Test', 'CC0', ST_Multi(ST_Buffer("
            "ST_SetSRID(ST_MakePoint(9.5, 52.9), 4326)::geography, 1000, 90)::geometry)) RETURNING id"
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_default_coordinates_are_about_a_tenth_of_a_metre(module_server: LiveServer) -> None:
    doc = module_server.get("/collections/meeting_places/items?limit=20").json()
    assert all(_decimals(c) <= 6 for f in doc["features"] for c in f["geometry"]["coordinates"])
    coarse = module_server.get("/collections/meeting_places/items?limit=20&precision=2").json()
    assert all(_decimals(c) <= 2 for f in coarse["features"] for c in f["geometry"]["coordinates"])


def test_simplify_and_zoom_reduce_polygons(server: LiveServer, round_quartier: int) -> None:
    url = f"/collections/quartiers/items?filter=name='Rundling'"
    full = server.get(url).json()["features"][0]
    assert full["id"] == round_quartier and _ring_sizes(full["geometry"]) > 300
    simplified = server.get(url + "&simplify=50").json()["features"][0]
    assert 4 <= _ring_sizes(simplified["geometry"]) < _ring_sizes(full["geometry"]) / 3
    assert simplified["geometry"]["type"] == "MultiPolygon"  # the layer's type is kept
    at_zoom_8 = server.get(url + "&zoom=8").json()["features"][0]
    at_zoom_14 = server.get(url + "&zoom=14").json()["features"][0]
    assert _ring_sizes(at_zoom_8["geometry"]) < _ring_sizes(at_zoom_14["geometry"])
    positions = _positions(at_zoom_8["geometry"]["coordinates"])
    assert max(_decimals(c) for pair in positions for c in pair) <= 4  # a zoom-8 pixel is ~0.0055°
    # The polygon stays a polygon around its centre.
    lons = [p[0] for p in positions]
    assert min(lons) < 9.5 < max(lons)


def test_points_are_not_simplified(module_server: LiveServer) -> None:
    plain = module_server.get("/collections/meeting_places/items?limit=5").json()
    simple = module_server.get("/collections/meeting_places/items?limit=5&simplify=10000").json()
    assert [f["geometry"] for f in plain["features"]] == [f["geometry"] for f in simple["features"]]


@pytest.mark.parametrize("params", [{"simplify": "-1"}, {"simplify": "nan"}, {"zoom": "25"},
                                    {"zoom": "zwei"}, {"precision": "16"}])
def test_bad_geometry_parameters_are_400(module_server: LiveServer, params: dict[str, str]) -> None:
    response = module_server.get("/collections/quartiers/items", params=params)
    assert response.status_code == 400 and response.json()["detail"]
