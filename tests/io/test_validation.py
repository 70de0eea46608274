"""Feature validation without files or database: types, enums, URLs, geometry, service area."""

from __future__ import annotations

import datetime as dt

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_service.settings import LOWER_SAXONY_BBOX
from geo_service.validation import ServiceArea, validate_feature
from tests.io.files import GIFHORN, layer

AREA = ServiceArea(LOWER_SAXONY_BBOX)
HERE = shapely.Point(*GIFHORN)
PLACE = {"name": "Treff", "kind": "Nachbarschaftstreff"}


def check(layer_id: str, props: dict, geom=HERE, **kwargs):  # type: ignore[no-untyped-def]
    return validate_feature(layer(layer_id), props, geom, area=AREA, **kwargs)


def test_csv_strings_are_coerced_to_the_property_types() -> None:
    result = check("offers", {
        "title": "Sprachcafé", "category": "Sprachkurs", "free": "ja",
        "languages": "de; ar;uk", "target_groups": '["Familien", "alle"]',
        "starts_at": "2024-08-19T14:00", "quartier_id": "3",
    })
    assert result.ok, result.errors
    assert result.values["free"] is True
    assert result.values["languages"] == ["de", "ar", "uk"]
    assert result.values["target_groups"] == ["Familien", "alle"]
    assert result.values["quartier_id"] == 3
    starts = result.values["starts_at"]
    assert starts.utcoffset() == dt.timedelta(hours=2)  # naive times are local (CEST)


@pytest.mark.parametrize(("text", "expected"), [
    ("1.234,5", 1234.5), ("0,75", 0.75), ("12.5", 12.5), ("3", 3.0),
])
def test_numbers_with_decimal_commas(text: str, expected: float) -> None:
    from geo_service.validation import parse_decimal
    import pandas as pd

    assert parse_decimal(pd.Series([text])).iloc[0] == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("nein", False), ("Ja", True), ("true", True), ("0", False), (1, True), (False, False),
])
def test_booleans(value: object, expected: bool) -> None:
    result = check("offers", {"title": "T", "category": "Beratung", "free": value})
    assert result.values["free"] is expected


def test_dates_iso_and_german() -> None:
    iso = check("meeting_places", {**PLACE, "last_checked": "2024-08-19"})
    german = check("meeting_places", {**PLACE, "last_checked": "19.08.2024"})
    assert iso.values["last_checked"] == german.values["last_checked"] == dt.date(2024, 8, 19)
    bad = check("meeting_places", {**PLACE, "last_checked": "gestern"})
    assert bad.errors == ["»last_checked«: „gestern“ ist kein Datum (JJJJ-MM-TT oder TT.MM.JJJJ)."]


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x</b>", "ftp://example.org",
    "www.example.org", "http://", "https://exa mple.org",
])
def test_only_http_and_https_links(url: str) -> None:
    result = check("meeting_places", {**PLACE, "website": url})
    assert not result.ok
    assert result.errors[0].startswith("»website«:")


def test_good_contact_values_pass() -> None:
    result = check("meeting_places", {
        **PLACE, "website": "https://www.gifhorn.de/quartier?x=1", "email": "treff@example.org",
        "phone": "+49 (0)5371 / 123-45", "opening_hours": "Mo-Fr 09:00-17:00; PH off",
    })
    assert result.ok, result.errors


@pytest.mark.parametrize(("prop", "value"), [
    ("email", "treff@"), ("phone", "ruf an"), ("opening_hours", "Montags 9 bis 5"),
    ("kind", "Kneipe"), ("languages", "de;klingonisch"),
])
def test_bad_values_are_named(prop: str, value: str) -> None:
    result = check("meeting_places", {**PLACE, prop: value})
    assert len(result.errors) == 1 and f"»{prop}«" in result.errors[0]


def test_required_and_max_length() -> None:
    result = check("meeting_places", {"kind": "Café", "postcode": "123456789012"})
    assert "Pflichtfeld »name« fehlt." in result.errors
    assert any("»postcode« ist zu lang" in e for e in result.errors)


def test_enum_case_is_normalised() -> None:
    assert check("meeting_places", {**PLACE, "kind": "café"}).values["kind"] == "Café"


def test_unknown_and_read_only_properties_are_dropped_with_warnings() -> None:
    result = check("meeting_places", {**PLACE, "farbe": "rot", "quartier": "Erfunden"})
    assert result.ok
    assert "farbe" not in result.values and "quartier" not in result.values
    assert any("»farbe«" in w for w in result.warnings)
    assert any("»quartier«" in w for w in result.warnings)


def test_self_intersection_is_rejected_with_its_location() -> None:
    x, y = GIFHORN
    bowtie = shapely.Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)])
    result = check("projects", {"name": "Schleife"}, bowtie)
    assert len(result.errors) == 1
    message = result.errors[0]
    assert "Selbstüberschneidung" in message and "Self-intersection[" in message
    assert f"Länge {x + 0.005:.6f}, Breite {y + 0.005:.6f}" in message


def test_geometry_type_must_fit_the_layer() -> None:
    line = shapely.LineString([GIFHORN, (GIFHORN[0] + 0.01, GIFHORN[1])])
    result = check("meeting_places", PLACE, line)
    assert result.errors == ["Falscher Geometrietyp: Linie (LineString), der Layer "
                             "»meeting_places« erwartet Punkt (Point)."]


def test_polygon_is_promoted_for_a_multipolygon_layer() -> None:
    square = shapely.box(GIFHORN[0], GIFHORN[1], GIFHORN[0] + 0.01, GIFHORN[1] + 0.01)
    props = {"name": "Q", "municipality": "G", "district": "L", "source": "S", "licence": "L"}
    result = check("quartiers", props, square)
    assert result.ok and result.geometry.geom_type == "MultiPolygon"


def test_missing_geometry_and_point_outside_the_area() -> None:
    assert check("meeting_places", PLACE, None).errors == ["Die Geometrie fehlt oder ist leer."]
    brasilia = check("meeting_places", PLACE, shapely.Point(-47.88, -15.79))
    assert "außerhalb des Einsatzgebiets" in brasilia.errors[0]


def test_service_area_polygon_replaces_the_box() -> None:
    x, y = GIFHORN
    area = ServiceArea((x - 0.1, y - 0.1, x + 0.1, y + 0.1),
                       shapely.box(x - 0.1, y - 0.1, x + 0.1, y + 0.1))
    inside = validate_feature(layer("spielplaetze"), {"name": "A"}, HERE, area=area)
    outside = validate_feature(layer("spielplaetze"), {"name": "B"},
                               shapely.Point(x + 0.5, y), area=area)
    assert inside.ok and not outside.ok


def test_end_before_start_is_rejected() -> None:
    result = check("projects", {"name": "P", "start_date": "2025-01-01", "end_date": "2024-01-01"})
    assert result.errors == ["»end_date« (2024-01-01) liegt vor »start_date« (2025-01-01)."]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["de", "en", "uk", "ar", "tr"]), min_size=1, max_size=5))
def test_any_list_spelling_gives_the_same_values(items: list[str]) -> None:
    expected = check("meeting_places", {**PLACE, "languages": items}).values["languages"]
    for text in ("; ".join(items), ",".join(items), str(items).replace("'", '"')):
        assert check("meeting_places", {**PLACE, "languages": text}).values["languages"] == expected
