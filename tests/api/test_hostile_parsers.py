"""Requests that used to kill the worker or end in a 500, sent to the running service.

Each one must be a 400 with a sentence in OGC exception JSON, and the same server process must
keep answering afterwards (a crash would show as a dead process or a refused connection).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.utils.server import LiveServer

ITEMS = "/collections/meeting_places/items"
QUARTIERS = "/collections/quartiers/items"
PROJECTS = "/collections/projects/items"
OFFERS = "/collections/offers/items"
NEAR = {"lon": "10.56", "lat": "52.48"}

#: Filters that overflowed cql2's stack (a segmentation fault of the whole worker) before the
#: guards, beyond the measured thresholds (1,540 parentheses, 3,422 minus signs, 3,421 NOTs,
#: 3,080 nested calls, 1,062 "-("), and two long or deep ones that must be refused the same way.
CRASHERS = {
    "nested parentheses": ("(" * 3000 + "name = 'x'" + ")" * 3000, "cql2-text"),
    "unary minus": ("quartier_id = " + "-" * 3500 + "1", "cql2-text"),
    "NOT chain": ("NOT " * 3500 + "name = 'x'", "cql2-text"),
    "nested calls": ("name = " + "f(" * 3200 + "1" + ")" * 3200, "cql2-text"),
    "minus and parentheses": ("quartier_id = " + "-(" * 1500 + "1" + ")" * 1500, "cql2-text"),
    "string hides nothing": ("name = ')))' AND " + "(" * 2000 + "name = 'x'" + ")" * 2000,
                             "cql2-text"),
    "long AND chain": (" AND ".join(["name = 'x'"] * 700), "cql2-text"),
    "deep JSON": ('{"op":"not","args":[' * 600 + "true" + "]}" * 600, "cql2-json"),
    "deep JSON arrays": ('{"op":"in","args":[{"property":"name"},' + "[" * 3000 + "]" * 3000 + "]}",
                         "cql2-json"),
}

#: (path, parameters): each a 500 before (issue 10's list, and more of the same family).
STILL_500S = {
    "1=1": (ITEMS, {"filter": "1=1"}),
    "'a'<2": (ITEMS, {"filter": "'a'<2"}),
    "two literals in JSON": (ITEMS, {"filter": '{"op":"=","args":[1,1]}', "filter-lang": "cql2-json"}),
    "bigint in BETWEEN": (QUARTIERS, {"filter": "population BETWEEN 1 AND 99999999999999999999999"}),
    "1e308 in BETWEEN": (QUARTIERS, {"filter": "population BETWEEN 0 AND 1e308"}),
    "1e308 in IN": (QUARTIERS, {"filter": "population IN (1e308, 2)"}),
    "bigint in IN": (OFFERS, {"filter": "quartier_id IN (1, 9223372036854775808)"}),
    "infinity": (QUARTIERS, {"filter": "population = 1e400"}),
    "LIKE ending in a backslash": (ITEMS, {"filter": "name LIKE '\\'"}),
    "LIKE ending in three backslashes": (ITEMS, {"filter": "name LIKE 'a\\\\\\'"}),
    "NUL in a filter string": (ITEMS, {"filter": "name = 'a\x00b'"}),
    "NUL escaped in cql2-json": (ITEMS, {"filter": '{"op":"=","args":[{"property":"name"},"a\\u0000"]}',
                                         "filter-lang": "cql2-json"}),
    "NUL in an array filter": (OFFERS, {"filter": '{"op":"a_contains","args":[{"property":"languages"},'
                                                  '["de\\u0000"]]}', "filter-lang": "cql2-json"}),
    "AND without arguments": (ITEMS, {"filter": '{"op":"and","args":[]}', "filter-lang": "cql2-json"}),
    "NOT without arguments": (ITEMS, {"filter": '{"op":"not","args":[]}', "filter-lang": "cql2-json"}),
    "= without arguments": (ITEMS, {"filter": '{"op":"=","args":[]}', "filter-lang": "cql2-json"}),
    "LIKE with one argument": (ITEMS, {"filter": '{"op":"like","args":[{"property":"name"}]}',
                                       "filter-lang": "cql2-json"}),
    "property name as a list": (ITEMS, {"filter": '{"op":"=","args":[{"property":["name"]},"x"]}',
                                        "filter-lang": "cql2-json"}),
    "infinite BBOX": (ITEMS, {"filter": "S_INTERSECTS(geom, BBOX(1e400, 52, 11, 53))"}),
    "two-point ring": (ITEMS, {"filter": '{"op":"s_intersects","args":[{"property":"geom"},'
                                         '{"type":"Polygon","coordinates":[[[10,52],[11,53]]]}]}',
                               "filter-lang": "cql2-json"}),
    "timestamp before year 1": (PROJECTS, {"filter": "T_AFTER(start_date, TIMESTAMP('0001-01-01T00:00:00+14:00'))"}),
    "timestamp after year 9999": (PROJECTS, {"filter": "T_AFTER(start_date, TIMESTAMP('9999-12-31T23:59:59-12:00'))"}),
    "datetime before year 1": (PROJECTS, {"datetime": "0001-01-01T00:00:00+14:00/.."}),
    "datetime after year 9999": (PROJECTS, {"datetime": "9999-12-31T23:59:59-12:00"}),
    "NUL in a property filter": (ITEMS, {"name": "a\x00"}),
    "NUL in a cursor": (ITEMS, {"cursor": "\x00"}),
    "deeply nested cursor": (ITEMS, {"cursor": "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb" * 60}),
    "NUL in /karte/search": ("/karte/search", {"q": "Tre\x00ff"}),
    "NUL in a /nearby category": ("/nearby", {**NEAR, "category": "Beratung\x00"}),
    "NUL in a /nearby language": ("/nearby", {**NEAR, "language": "de\x00"}),
    "NUL in /nearby kind": ("/nearby", {**NEAR, "kind": "\x00"}),
    "open_at in year 1": ("/nearby", {**NEAR, "open_at": "0001-01-01T00:00:00+14:00"}),
    "open_at at the very start": ("/nearby", {**NEAR, "open_at": "0001-01-01T00:00:00Z"}),
    "open_at at the very end": ("/nearby", {**NEAR, "open_at": "9999-12-31T23:59:59Z"}),
    "open_at after year 9999": ("/nearby", {**NEAR, "open_at": "9999-12-31T23:59:59-12:00"}),
    "day 1-01-01": ("/nearby", {**NEAR, "day": "0001-01-01"}),
    "day 9999-12-31": ("/nearby", {**NEAR, "day": "9999-12-31"}),
    "NaN radius": ("/nearby", {**NEAR, "radius": "nan"}),
    "ids beyond bigint": ("/karte/hours", {"ids": "99999999999999999999"}),
    "negative ids beyond bigint": ("/karte/hours", {"ids": "1,-99999999999999999999"}),
    "NUL in ids": ("/karte/hours", {"ids": "1\x00"}),
    "at in year 1": ("/karte/hours", {"ids": "1", "at": "0001-01-01T00:00:00+14:00"}),
    "at after year 9999": ("/karte/hours", {"ids": "1,2", "at": "9999-12-31T23:59:59-12:00"}),
    "NUL in the map language": ("/karte", {"lang": "de\x00"}),
    "NUL in embed layers": ("/embed", {"layers": "meeting_places\x00"}),
    "NaN bbox for the planner": ("/planung/indicators", {"bbox": "nan,nan,nan,nan"}),
    "huge zoom for the grid": ("/planung/grid/meeting_places", {"zoom": "99999999999999999999"}),
    "NUL in the indicator": ("/planung/indicators", {"indicator": "offers\x00"}),
}


@pytest.fixture(scope="module")
def live(module_db_url: str) -> Iterator[LiveServer]:
    with LiveServer(make_settings(module_db_url)) as server:
        yield server


def _still_serving(live: LiveServer) -> None:
    assert live._process is not None and live._process.poll() is None, "the server process died"
    assert live.get("/healthz").status_code == 200
    assert live.get(ITEMS, params={"limit": 1}).status_code == 200


def _is_a_sentence(response: httpx.Response) -> str:
    body = response.json()
    assert body["code"] == "InvalidParameterValue" and body["status"] == 400, body
    detail: str = body["description"]
    assert len(detail) > 20 and detail == body["detail"], detail
    return detail


@pytest.mark.parametrize("case", sorted(CRASHERS))
def test_filters_that_crashed_the_parser_are_refused_and_the_server_lives(
        live: LiveServer, case: str) -> None:
    text, lang = CRASHERS[case]
    response = live.get(ITEMS, params={"filter": text, "filter-lang": lang})
    assert response.status_code == 400, response.text[:300]
    detail = _is_a_sentence(response)
    assert "verschachtelt" in detail or "zu lang" in detail, detail
    _still_serving(live)


@pytest.mark.parametrize("case", sorted(STILL_500S))
def test_odd_values_are_400_with_a_sentence(live: LiveServer, case: str) -> None:
    path, params = STILL_500S[case]
    response = live.get(path, params=params)
    assert response.status_code == 400, (case, response.status_code, response.text[:300])
    _is_a_sentence(response)


def test_the_sentences_say_what_to_do(live: LiveServer) -> None:
    def detail(path: str, **params: str) -> str:
        return _is_a_sentence(live.get(path, params=params))

    assert "Eigenschaft" in detail(ITEMS, filter="1=1")
    assert "9223372036854775807" in detail("/karte/hours", ids="99999999999999999999")
    assert "\\" in detail(ITEMS, filter="name LIKE 'x\\'")
    assert "Nullzeichen" in detail("/karte/search", q="ab\x00")
    assert "0001-01-02" in detail("/nearby", **NEAR, open_at="0001-01-01T00:00:00Z")
    assert "»..«" in detail(PROJECTS, datetime="0001-01-01/..")
    assert "8000" in detail(ITEMS, filter=" OR ".join(["name = 'Treff'"] * 1000))


def test_legitimate_neighbours_of_the_odd_values_still_work(live: LiveServer) -> None:
    ok = [
        (ITEMS, {"filter": "name LIKE 'GWG%'"}),
        (ITEMS, {"filter": "name LIKE '%\\%%'"}),  # an escaped percent sign
        (ITEMS, {"filter": "name LIKE 'x\\\\'"}),  # ends with an escaped backslash
        (ITEMS, {"filter": "name = '((('"}),  # parentheses inside a string literal
        (ITEMS, {"filter": "NOT (NOT (name = 'x'))"}),
        (QUARTIERS, {"filter": "population BETWEEN 0 AND 9007199254740992"}),
        (QUARTIERS, {"population": "9223372036854775807"}),
        (QUARTIERS, {"filter": "population IN (1, 2, 3)"}),
        (OFFERS, {"filter": "quartier_id = -1"}),
        (PROJECTS, {"datetime": "0001-01-02/9999-12-30"}),
        (PROJECTS, {"datetime": "../2030-01-01"}),
        (PROJECTS, {"filter": "T_AFTER(start_date, DATE('2000-01-01'))"}),
        (ITEMS, {"filter": json.dumps({"op": "s_intersects", "args": [
            {"property": "geom"}, {"type": "Polygon", "coordinates": [
                [[10.4, 52.3], [10.7, 52.3], [10.7, 52.6], [10.4, 52.6], [10.4, 52.3]]]}]}),
                 "filter-lang": "cql2-json"}),
        ("/nearby", {**NEAR, "open_at": "2026-11-23T10:00:00+01:00"}),
        ("/nearby", {**NEAR, "day": "2026-11-24"}),
        ("/karte/hours", {"ids": "1,2", "at": "2025-10-31T10:00:00+01:00"}),
        ("/karte/search", {"q": "Treff"}),
    ]
    for path, params in ok:
        response = live.get(path, params=params)
        assert response.status_code == 200, (path, params, response.text[:300])
    matched = live.get(ITEMS, params={"filter": "name LIKE 'GWG%'"}).json()
    assert any(f["properties"]["name"].startswith("GWG") for f in matched["features"])


def test_far_days_are_evaluated_without_holding_the_worker(live: LiveServer) -> None:
    """``day`` near the end of the calendar: recurring offers used to be stepped through day
    by day from their start (a worker busy for minutes); now it answers like any other day."""
    for day in ("2099-12-31", "9999-12-30", "0001-01-02"):
        response = live.get("/nearby", params={**NEAR, "day": day, "limit": "100",
                                               "radius": "200000"})
        assert response.status_code == 200, response.text[:300]
    _still_serving(live)


def test_write_bodies_with_values_the_database_cannot_hold(db_url: str) -> None:
    """The same family in request bodies: a NUL in a text, an integer too large for the int4
    column ``population``: 400, and nothing written."""
    from geo_service.auth import create_key
    from tests.utils.builders import count

    key = create_key(db_url, role="admin", layers=[], districts=[], organisation=None,
                     label="hostile values").token
    auth = {"Authorization": f"Bearer {key}"}
    with LiveServer(make_settings(db_url)) as server:
        places = count(db_url, "SELECT count(*) FROM meeting_places")
        made = server.client.post(ITEMS, headers=auth, json={
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [10.56, 52.48]},
            "properties": {"name": "Treff\x00", "kind": "Nachbarschaftstreff"}})
        assert made.status_code == 400 and "Nullzeichen" in made.json()["detail"], made.text
        assert count(db_url, "SELECT count(*) FROM meeting_places") == places

        quartier = server.get(QUARTIERS, params={"limit": 1}).json()["features"][0]
        item = server.get(f"{QUARTIERS}/{quartier['id']}")
        changed = server.client.patch(
            f"{QUARTIERS}/{quartier['id']}", json={"properties": {"population": 3_000_000_000}},
            headers={**auth, "If-Match": item.headers["ETag"],
                     "Content-Type": "application/merge-patch+json"})
        assert changed.status_code == 400, changed.text
        assert changed.json()["code"] == "InvalidData" and "zu große Zahl" in changed.json()["detail"]
        after = server.get(f"{QUARTIERS}/{quartier['id']}").json()
        assert after["properties"]["population"] == quartier["properties"]["population"]
        _still_serving(server)
