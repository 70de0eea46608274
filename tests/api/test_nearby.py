"""'Near me': true distances in metres, KNN on the spatial index, the same filters as items."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pyproj

from tests.utils.builders import add_meeting_place, add_offer
from tests.utils.server import LiveServer

GEOD = pyproj.Geod(ellps="WGS84")
DATA = Path(__file__).resolve().parents[2] / "data"


def _gwg() -> tuple[float, float]:
    places = json.loads((DATA / "meeting_places.geojson").read_text(encoding="utf-8"))
    for feature in places["features"]:
        if feature["properties"]["name"].startswith("GWG-Treff-PUNKT 53"):
            lon, lat = feature["geometry"]["coordinates"]
            return lon, lat
    raise AssertionError("GWG-Treff-PUNKT 53 missing from the demo data")


def test_gwg_treff_is_first_from_100_m_away_with_true_distance(module_server: LiveServer) -> None:
    lon, lat = _gwg()
    here_lon, here_lat, _ = GEOD.fwd(lon, lat, 45, 100)  # 100 m to the north-east
    doc = module_server.get("/nearby", params={"lon": here_lon, "lat": here_lat}).json()
    first = doc["features"][0]
    assert first["properties"]["name"].startswith("GWG-Treff-PUNKT 53")
    assert first["properties"]["layer"] == "meeting_places"
    assert abs(first["properties"]["distance_m"] - 100) <= 10
    distances = [f["properties"]["distance_m"] for f in doc["features"]]
    assert distances == sorted(distances)


def test_order_is_by_metres_not_degrees(server: LiveServer, db_url: str) -> None:
    lon, lat = 8.0, 52.9  # open country in the Landkreis Cloppenburg, no demo place near
    east = add_meeting_place(db_url, name="Osten 0.010 Grad", lon=lon + 0.010, lat=lat)
    north = add_meeting_place(db_url, name="Norden 0.008 Grad", lon=lon, lat=lat + 0.008)
    doc = server.get("/nearby", params={"lon": lon, "lat": lat, "layers": "meeting_places",
                                        "limit": 2}).json()
    ids = [f["id"] for f in doc["features"]]
    # By degrees the northern place is nearer (0.008 < 0.010); in metres the eastern one
    # (about 673 m against 890 m at this latitude).
    assert ids == [f"meeting_places.{east}", f"meeting_places.{north}"]
    d_east = GEOD.inv(lon, lat, lon + 0.010, lat)[2]
    assert abs(doc["features"][0]["properties"]["distance_m"] - d_east) < 1


def test_filters_radius_and_opening_hours(server: LiveServer, db_url: str) -> None:
    lon, lat = 8.0, 52.9
    ramp = add_meeting_place(db_url, name="Treff mit Rampe", lon=lon + 0.001, lat=lat,
                             wheelchair="yes", languages=["de", "ar"],
                             opening_hours="Mo-Fr 09:00-17:00; PH off")
    stairs = add_meeting_place(db_url, name="Treff mit Stufen", lon=lon + 0.002, lat=lat,
                               wheelchair="no", languages=["de"], opening_hours="Sa 10:00-14:00")
    add_offer(db_url, title="Deutschkurs", category="Sprachkurs", meeting_place_id=stairs,
              free=True, languages=["de", "uk"], target_groups=["Geflüchtete"])
    base = {"lon": lon, "lat": lat, "radius": 500}

    def names(**params: str) -> list[str]:
        doc = server.get("/nearby", params={**base, **params}).json()
        return [f["properties"].get("name") or f["properties"].get("title") for f in doc["features"]]

    assert names(wheelchair="true") == ["Treff mit Rampe"]
    assert names(category="Sprachkurs") == ["Treff mit Stufen", "Deutschkurs"]
    assert names(language="uk") == ["Treff mit Stufen", "Deutschkurs"]
    assert names(free="true", layers="offers") == ["Deutschkurs"]
    assert names(target_group="Senior:innen") == []
    # Tuesday 10:00 in Berlin: only the place open on weekdays.
    assert names(layers="meeting_places", open_at="2026-11-24T10:00:00+01:00") == ["Treff mit Rampe"]
    # Reformation Day (31 October) is a public holiday in Lower Saxony: 'PH off' applies.
    assert names(layers="meeting_places", open_at="2025-10-31T10:00:00+01:00") == []
    assert names(layers="meeting_places", open_at="2026-11-28T11:00:00+01:00") == ["Treff mit Stufen"]
    area = server.get("/nearby", params={"lon": 10.64, "lat": 52.22, "areas": "true",
                                         "layers": "offers", "limit": 3}).json()
    plain = server.get("/nearby", params={"lon": 10.64, "lat": 52.22, "layers": "offers",
                                          "limit": 3}).json()
    # Sickte: Miteinander BUNT's mentoring covers the area and is not held at a place.
    assert area["features"][0]["properties"]["distance_m"] == 0
    assert all(f["properties"]["meeting_place_id"] for f in plain["features"])
    far = server.get("/nearby", params={"lon": lon, "lat": lat, "radius": 50}).json()
    assert far["features"] == []
    assert ramp


def test_bad_positions_are_rejected(module_server: LiveServer) -> None:
    for params in ({}, {"lon": "10"}, {"lon": "x", "lat": "52"}, {"lon": "200", "lat": "52"},
                   {"lon": "10", "lat": "52", "limit": "0"}, {"lon": "10", "lat": "52", "radius": "-1"},
                   {"lon": "10", "lat": "52", "open_at": "bald"}, {"lon": "10", "lat": "52", "x": "1"},
                   {"lon": "10", "lat": "52", "layers": "projects"}):
        response = module_server.get("/nearby", params=params)
        assert response.status_code == 400, params
        assert response.json()["detail"]


def test_knn_and_bbox_queries_use_the_spatial_index(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("SET enable_seqscan = off")  # the tables are tiny: ask whether the index *can* serve
        knn = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT id FROM meeting_places t ORDER BY t.geom::geography <-> "
            "ST_SetSRID(ST_MakePoint(10.5, 52.5), 4326)::geography LIMIT 10"))
        assert "meeting_places_geog_idx" in knn
        bbox = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT id FROM meeting_places t WHERE ST_Intersects(t.geom, "
            "ST_MakeEnvelope(10, 52, 11, 53, 4326))"))
        assert "meeting_places_geom_idx" in bbox


def test_offers_on_a_given_day(server: LiveServer, db_url: str) -> None:
    lon, lat = 8.0, 52.9
    place = add_meeting_place(db_url, name="Treff am Dienstag", lon=lon + 0.001, lat=lat)
    quiet = add_meeting_place(db_url, name="Treff ohne Termine", lon=lon + 0.0015, lat=lat)
    add_offer(db_url, title="Dienstagscafé", category="Kultur & Begegnung", meeting_place_id=place,
              recurrence="FREQ=WEEKLY;BYDAY=TU")
    add_offer(db_url, title="Sommerfest", category="Kultur & Begegnung", meeting_place_id=place,
              starts_at="2026-07-04T15:00:00+02:00")
    add_offer(db_url, title="Nach Absprache", category="Beratung", meeting_place_id=quiet)

    def names(day: str) -> list[str]:
        doc = server.get("/nearby", params={"lon": lon, "lat": lat, "radius": 500, "day": day}).json()
        return [f["properties"].get("name") or f["properties"].get("title") for f in doc["features"]]

    assert names("2026-11-24") == ["Treff am Dienstag", "Dienstagscafé"]  # a Tuesday
    assert names("2026-11-25") == []
    assert names("2026-07-04") == ["Treff am Dienstag", "Sommerfest"]
    assert server.get("/nearby", params={"lon": lon, "lat": lat, "day": "morgen"}).status_code == 400
