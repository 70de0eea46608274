"""The demo data in ``data/``: valid GeoJSON, true to the layer files, places where they are."""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import opening_hours
import psycopg
import pytest
from shapely.geometry import Point, shape
from shapely.validation import explain_validity

from geo_service.layers import Layer, Registry
from geo_service.settings import LOWER_SAXONY_BBOX

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
REGISTRY = Registry.from_dir(ROOT / "layers")
DEMO_LAYERS = ["quartiers", "meeting_places", "offers", "projects", "spielplaetze"]
PROGRAMME = "Gemeinwesenarbeit und Quartiersmanagement"

#: Town centres (lon, lat; market square or town hall, from own knowledge) and how far a
#: meeting place of that town may lie from it, in metres.
TOWN_CENTRES: dict[str, tuple[float, float, float]] = {
    "Gifhorn": (10.546, 52.479, 3000),
    "Hildesheim": (9.951, 52.152, 3000),
    "Emden": (7.206, 53.367, 3000),
    "Dannenberg (Elbe)": (11.099, 53.098, 3000),
    "Sögel": (7.522, 52.847, 3000),
    "Sickte": (10.642, 52.219, 3000),
    "Salzhemmendorf": (9.583, 52.067, 3000),
    "Bad Münder am Deister": (9.466, 52.197, 3000),
}

#: Where the named meeting places must lie (the database derives this by trigger).
EXPECTED_QUARTIER = {
    "GWG-Treff-PUNKT 53": "Handwerkerviertel/Blumenviertel",
    "Stadtteilbüro Nordstadt": "Nordstadt",
    "Stadtteilbüro Borssum (Quartiersbrücken)": "Borssum",
    "Zukunftszentrum Dannenberg": "Feldstraße/Bellmannsfeld/Bahnhofstraße",
    "Willkommensbüro Sögel": "Sögel Ortskern",
}

_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


def load(layer_id: str) -> list[dict[str, Any]]:
    collection = json.loads((DATA / f"{layer_id}.geojson").read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    return list(collection["features"])


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two lon/lat points (haversine, mean earth radius)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def in_lower_saxony(geom: Any) -> bool:
    minx, miny, maxx, maxy = geom.bounds
    west, south, east, north = LOWER_SAXONY_BBOX
    return west <= minx and maxx <= east and south <= miny and maxy <= north


def by_name(features: list[dict[str, Any]], key: str = "name") -> dict[str, dict[str, Any]]:
    return {f["properties"][key]: f for f in features}


def quartier_shapes() -> dict[str, Any]:
    return {name: shape(f["geometry"]) for name, f in by_name(load("quartiers")).items()}


# ---------------------------------------------------------------- files and geometries


@pytest.mark.parametrize("layer_id", DEMO_LAYERS)
def test_file_is_a_feature_collection_of_valid_geometries(layer_id: str) -> None:
    layer = REGISTRY.get(layer_id)
    assert layer is not None, f"no layer file for {layer_id}"
    features = load(layer_id)
    assert features, f"{layer_id}.geojson is empty"
    for i, feature in enumerate(features):
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geom = shape(feature["geometry"])
        assert geom.is_valid, f"{layer_id}[{i}]: {explain_validity(geom)}"
        assert not geom.is_empty
        if layer.geometry_type != "Geometry":
            assert geom.geom_type == layer.geometry_type, f"{layer_id}[{i}]: {geom.geom_type}"
        # CRS84: lon first. Lower Saxony's lon < lat everywhere, so swapped axes show up here.
        assert in_lower_saxony(geom), f"{layer_id}[{i}] lies outside Lower Saxony: {geom.bounds}"


def check_value(layer: Layer, name: str, value: Any) -> None:
    prop = layer.property(name)
    assert prop is not None, f"{layer.id}: unknown property '{name}'"
    assert not prop.personal, f"{layer.id}: personal property '{name}' in demo data"
    # Read-only columns are derived by the database; offers name their meeting place, which
    # the importer resolves to meeting_place_id.
    assert not prop.read_only or (layer.id, name) == ("offers", "meeting_place"), (
        f"{layer.id}: read-only property '{name}' must not be in the file"
    )
    items = value if prop.is_array else [value]
    if prop.is_array:
        assert isinstance(value, list) and value, f"{layer.id}.{name}: {value!r} is not a list"
    for item in items:
        if prop.type in {"string", "string[]", "text", "url", "email", "phone", "opening_hours"}:
            assert isinstance(item, str) and item.strip(), f"{layer.id}.{name}: {item!r}"
        if prop.max_length is not None:
            assert len(item) <= prop.max_length, f"{layer.id}.{name} too long"
        if prop.enum is not None:
            assert item in prop.enum, f"{layer.id}.{name}: {item!r} not in {prop.enum}"
    if prop.type == "integer":
        assert isinstance(value, int) and not isinstance(value, bool)
    elif prop.type == "boolean":
        assert isinstance(value, bool)
    elif prop.type == "date":
        date.fromisoformat(value)
    elif prop.type == "datetime":
        assert datetime.fromisoformat(value).tzinfo is not None, f"{layer.id}.{name}: no offset"
    elif prop.type == "url":
        assert _URL.match(value), f"{layer.id}.{name}: {value!r} is not an http(s) URL"
    elif prop.type == "opening_hours":
        assert opening_hours.validate(value), f"{layer.id}.{name}: {value!r} is not OSM syntax"


@pytest.mark.parametrize("layer_id", DEMO_LAYERS)
def test_properties_follow_the_layer_file(layer_id: str) -> None:
    layer = REGISTRY.get(layer_id)
    assert layer is not None
    for feature in load(layer_id):
        props = feature["properties"]
        for prop in layer.properties:
            if prop.required:
                assert props.get(prop.name), f"{layer_id}: '{prop.name}' missing in {props}"
        for name, value in props.items():
            check_value(layer, name, value)


def test_no_invented_contact_details() -> None:
    """Phone numbers and e-mail addresses of real organisations are never made up here."""
    for layer_id in ("meeting_places", "offers"):
        for feature in load(layer_id):
            assert "phone" not in feature["properties"]
            assert "email" not in feature["properties"]


def test_names_are_unique() -> None:
    for layer_id, key in [("quartiers", "name"), ("meeting_places", "name"), ("projects", "name"),
                          ("offers", "title"), ("spielplaetze", "name")]:
        names = [f["properties"][key] for f in load(layer_id)]
        assert len(names) == len(set(names)), f"{layer_id}: duplicate {key}"


# ---------------------------------------------------------------- where things lie


def test_quartier_outlines_say_they_are_sketches() -> None:
    for feature in load("quartiers"):
        props = feature["properties"]
        assert "eigene Skizze" in props["source"] and "keine amtliche Grenze" in props["source"]
        assert props["licence"]
        ring = shape(feature["geometry"]).geoms[0].exterior.coords
        assert 6 <= len(ring) - 1 <= 20, f"{props['name']}: {len(ring) - 1} vertices"


def test_quartiers_do_not_overlap() -> None:
    shapes = list(quartier_shapes().items())
    for i, (a, ga) in enumerate(shapes):
        for b, gb in shapes[i + 1:]:
            assert not ga.intersects(gb), f"{a} overlaps {b}"


def test_every_meeting_place_lies_in_one_quartier_of_its_own_town() -> None:
    quartiers = by_name(load("quartiers"))
    shapes = quartier_shapes()
    for feature in load("meeting_places"):
        props = feature["properties"]
        point = shape(feature["geometry"])
        holders = [name for name, geom in shapes.items() if geom.covers(point)]
        assert len(holders) == 1, f"{props['name']} lies in {holders}"
        assert quartiers[holders[0]]["properties"]["municipality"] == props["town"]
        expected = EXPECTED_QUARTIER.get(props["name"])
        assert expected is None or holders[0] == expected, f"{props['name']}: {holders[0]}"


def test_meeting_places_are_near_their_town_centre() -> None:
    for feature in load("meeting_places"):
        props = feature["properties"]
        assert props["town"] in TOWN_CENTRES, f"add a centre for {props['town']} to the table"
        lon, lat, radius = TOWN_CENTRES[props["town"]]
        distance = metres(tuple(feature["geometry"]["coordinates"]), (lon, lat))
        assert distance <= radius, f"{props['name']} is {distance:.0f} m from {props['town']}"


def test_quartiers_lie_around_their_municipality() -> None:
    for feature in load("quartiers"):
        props = feature["properties"]
        lon, lat, radius = TOWN_CENTRES[props["municipality"]]
        assert shape(feature["geometry"]).distance(Point(lon, lat)) * 111_000 <= radius


def test_meeting_places_say_where_their_position_comes_from() -> None:
    for feature in load("meeting_places"):
        props = feature["properties"]
        for key in ("position_source", "last_checked", "town", "postcode", "address", "kind",
                    "languages"):
            assert props.get(key), f"{props['name']}: '{key}' missing"
        assert props["position_source"].startswith("approximate")


def test_playgrounds_are_marked_as_examples_and_lie_in_a_quartier() -> None:
    shapes = quartier_shapes()
    for feature in load("spielplaetze"):
        props = feature["properties"]
        assert "Beispiel" in props["name"] and "Beispiel" in props["operator"]
        point = shape(feature["geometry"])
        assert any(geom.covers(point) for geom in shapes.values()), props["name"]


# ---------------------------------------------------------------- offers and projects


def test_offers_name_existing_meeting_places_and_lie_there() -> None:
    places = by_name(load("meeting_places"))
    for feature in load("offers"):
        props = feature["properties"]
        name = props.get("meeting_place")
        geom = shape(feature["geometry"])
        if name is None:
            assert geom.geom_type == "MultiPolygon", f"{props['title']}: no place, no area"
            continue
        assert name in places, f"{props['title']}: unknown meeting place {name!r}"
        assert geom.equals(shape(places[name]["geometry"])), f"{props['title']}: not at {name}"


def test_offer_dates_are_consistent() -> None:
    for feature in load("offers"):
        props = feature["properties"]
        if "starts_at" in props and "ends_at" in props:
            start = datetime.fromisoformat(props["starts_at"])
            assert datetime.fromisoformat(props["ends_at"]) >= start
        if "recurrence" in props:
            assert props["recurrence"].startswith("FREQ=")


def test_gwg_treff_and_its_netzwerktreffen() -> None:
    place = by_name(load("meeting_places"))["GWG-Treff-PUNKT 53"]["properties"]
    assert place["address"] == "Dannenbütteler Weg 53"
    assert place["postcode"] == "38518" and place["town"] == "Gifhorn"
    assert "Gifhorner Wohnungsbau-Genossenschaft" in place["operator"]
    treffen = [f["properties"] for f in load("offers")
               if f["properties"]["title"].startswith("Netzwerktreffen")]
    assert len(treffen) == 1
    offer = treffen[0]
    assert offer["meeting_place"] == "GWG-Treff-PUNKT 53"
    assert offer["category"] == "Treffen & Vernetzung"
    assert datetime.fromisoformat(offer["starts_at"]) == datetime.fromisoformat(
        "2024-08-19T12:00:00+00:00"
    )
    assert datetime.fromisoformat(offer["starts_at"]).weekday() == 0  # a Monday
    assert "Gute Nachbarschaft" in offer["title"] + offer.get("description", "")


def test_gesundheitstreff_offers_multilingual_sport_with_childcare() -> None:
    offers = [f["properties"] for f in load("offers")
              if f["properties"].get("meeting_place") == "Stadtteilbüro Nordstadt"
              and f["properties"]["category"] == "Sport & Gesundheit"]
    sport = [o for o in offers if "Kinderbetreuung" in o["title"] + o.get("description", "")]
    assert sport, "no sports course with childcare at the Stadtteilbüro Nordstadt"
    assert len(sport[0]["languages"]) >= 3
    assert {"Familien", "Geflüchtete"} <= set(sport[0]["target_groups"])


def test_projects_belong_to_the_programme() -> None:
    for feature in load("projects"):
        props = feature["properties"]
        assert props["programme"] == PROGRAMME
        assert props.get("organisation") and props.get("description")
        if "start_date" in props and "end_date" in props:
            assert date.fromisoformat(props["end_date"]) >= date.fromisoformat(props["start_date"])


def test_glaswaende_covers_salzhemmendorf_and_bad_muender() -> None:
    project = by_name(load("projects"))["Glaswände"]
    assert project["properties"]["organisation"] == "Landkreis Hameln-Pyrmont"
    geom = shape(project["geometry"])
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    for town in ("Salzhemmendorf", "Bad Münder am Deister"):
        lon, lat, _ = TOWN_CENTRES[town]
        assert geom.covers(Point(lon, lat)), f"Glaswände does not cover {town}"


# ---------------------------------------------------------------- through the real importer


def test_database_derives_quartier_and_offer_geometry(db_url: str) -> None:
    """The conftest loaded data/ with the real importer; the triggers did the rest."""
    with psycopg.connect(db_url) as conn:
        quartier = conn.execute(
            "SELECT quartier FROM meeting_places WHERE name = %s", ("GWG-Treff-PUNKT 53",)
        ).fetchone()
        assert quartier == ("Handwerkerviertel/Blumenviertel",)

        rows = conn.execute(
            """
            SELECT o.meeting_place_id = m.id, ST_Equals(o.geom, m.geom), o.starts_at
              FROM offers o JOIN meeting_places m ON m.name = %s
             WHERE o.title LIKE 'Netzwerktreffen%%'
            """,
            ("GWG-Treff-PUNKT 53",),
        ).fetchall()
        assert len(rows) == 1
        same_place, same_point, starts_at = rows[0]
        assert same_place and same_point
        assert starts_at == datetime.fromisoformat("2024-08-19T14:00:00+02:00")

        for name, expected in EXPECTED_QUARTIER.items():
            got = conn.execute(
                "SELECT quartier FROM meeting_places WHERE name = %s", (name,)
            ).fetchone()
            assert got == (expected,), f"{name}: {got}"

        for table in ("quartiers", "meeting_places", "offers", "projects"):
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count == (len(load(table)),), table
