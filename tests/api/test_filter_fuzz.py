"""Property-based fuzz of the CQL2 ``filter`` parameter against the running service.

CQL2 text and CQL2 JSON, built from the grammar's pieces and from noise: nesting on both sides of
the limit, literals of every kind (huge and odd numbers, strings with quotes, backslashes, NUL,
unicode), known and unknown properties, spatial, temporal and array operators. Whatever is sent,
the answer is a 200 or a 4xx with OGC exception JSON, never a 500, never a dropped connection;
and the same server process answers afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import make_settings
from tests.utils.server import LiveServer

LAYERS = ["meeting_places", "offers", "projects", "quartiers"]
PROPERTIES = ["name", "kind", "languages", "wheelchair", "town", "category", "free", "starts_at",
              "start_date", "end_date", "population", "quartier_id", "last_checked", "geom",
              "geometry", "id", "nicht_da", "Name", "na\"me", "ü", ""]
FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def live(module_db_url: str) -> Iterator[LiveServer]:
    with LiveServer(make_settings(module_db_url)) as server:
        yield server


# -- CQL2 text ------------------------------------------------------------------------
def _quoted(text: str, quote: str = "'") -> str:
    return quote + text.replace(quote, quote * 2) + quote


odd_text = st.lists(st.sampled_from(list("aZ0 %_\\'\"()\x00üé€🎉\u202e\t\n;,-+*/") + ["''", "\\\\"]),
                    max_size=12).map("".join)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["1e308", "-1e308", "1e309", "1e-400", "0.0", "-0", ".5", "5.", "1e", "0x1F",
                     "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                     "9007199254740993", "NaN", "inf"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
instants = st.one_of(
    st.sampled_from(["0001-01-01", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                     "9999-12-31", "2024-02-30", "2024-13-01", "..", "", "2024-08-19T14:00:00Z",
                     "2024-08-19", "24:00", "2024-08-19T25:61:00Z"]),
    st.datetimes().map(lambda d: d.isoformat()),
)
literal = st.one_of(
    numbers, odd_text.map(_quoted), st.sampled_from(["TRUE", "false", "NULL"]),
    instants.map(lambda t: f"DATE({_quoted(t)})"), instants.map(lambda t: f"TIMESTAMP({_quoted(t)})"),
)
prop = st.one_of(st.sampled_from(PROPERTIES),
                 st.sampled_from(PROPERTIES).map(lambda p: _quoted(p, '"')))
coordinate = st.one_of(st.floats(min_value=-200, max_value=200, allow_nan=False), st.sampled_from([1e308, -1e308]))
point = st.tuples(coordinate, coordinate).map(lambda c: f"{c[0]!r} {c[1]!r}")
geometry = st.one_of(
    point.map(lambda p: f"POINT({p})"),
    st.lists(point, min_size=0, max_size=6).map(lambda ps: f"LINESTRING({', '.join(ps)})"),
    st.lists(point, min_size=0, max_size=6).map(lambda ps: f"POLYGON(({', '.join(ps)}))"),
    st.lists(coordinate, min_size=3, max_size=7).map(lambda cs: f"BBOX({', '.join(map(repr, cs))})"),
    st.just("GEOMETRYCOLLECTION(POINT(10 52), GEOMETRYCOLLECTION(POINT(1 1)))"),
    st.just("POINT EMPTY"),
)
predicate = st.one_of(
    st.tuples(prop, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), literal)
    .map(lambda t: " ".join(t)),
    st.tuples(literal, st.sampled_from(["=", "<"]), st.one_of(literal, prop)).map(lambda t: " ".join(t)),
    st.tuples(prop, st.sampled_from(["LIKE", "NOT LIKE"]), odd_text.map(_quoted)).map(lambda t: " ".join(t)),
    st.tuples(prop, literal, literal).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
    st.tuples(prop, st.lists(literal, max_size=5)).map(lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
    prop.map(lambda p: f"{p} IS NULL"), prop.map(lambda p: f"{p} IS NOT NULL"),
    st.tuples(st.sampled_from(["S_INTERSECTS", "S_WITHIN", "S_CONTAINS", "S_DISJOINT", "S_EQUALS",
                               "S_TOUCHES", "S_CROSSES", "S_OVERLAPS"]), prop, geometry)
    .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    st.tuples(st.sampled_from(["T_AFTER", "T_BEFORE", "T_DURING", "T_INTERSECTS", "T_EQUALS",
                               "T_MEETS"]), prop, instants, instants)
    .map(lambda t: f"{t[0]}({t[1]}, INTERVAL({_quoted(t[2])}, {_quoted(t[3])}))"),
    st.tuples(st.sampled_from(["A_CONTAINS", "A_CONTAINEDBY", "A_OVERLAPS", "A_EQUALS"]), prop,
              st.lists(odd_text.map(_quoted), max_size=4))
    .map(lambda t: f"{t[0]}({t[1]}, ({', '.join(t[2])}))"),
    st.tuples(st.sampled_from(["CASEI", "ACCENTI", "f"]), prop, odd_text.map(_quoted))
    .map(lambda t: f"{t[0]}({t[1]}) = {t[2]}"),
)
text_filter = st.recursive(
    predicate,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: " ".join(t)),
        inner.map(lambda e: f"NOT ({e})"),
        st.tuples(inner, st.integers(min_value=1, max_value=60))
        .map(lambda t: "(" * t[1] + t[0] + ")" * t[1]),
        st.tuples(inner, st.integers(min_value=1, max_value=60)).map(lambda t: "NOT " * t[1] + t[0]),
    ),
    max_leaves=8,
)
token_soup = st.lists(st.sampled_from(
    ["(", ")", "'", '"', "''", "AND", "OR", "NOT", "=", "<", "-", "+", "1e308", "name", "geom",
     "POINT", "(", "BBOX", "LIKE", "\\", "%", ",", "INTERVAL", "DATE", "\x00", "ü", " "]),
    max_size=80).map("".join)


# -- CQL2 JSON --------------------------------------------------------------------------
json_literal = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False, allow_infinity=False),
    odd_text, st.booleans(), st.none(),
    instants.map(lambda t: {"date": t}), instants.map(lambda t: {"timestamp": t}),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=7).map(lambda b: {"bbox": b}),
    st.lists(st.floats(-200, 200), min_size=0, max_size=3).map(
        lambda c: {"type": "Point", "coordinates": c}),
    st.lists(st.lists(st.lists(st.floats(-200, 200), min_size=2, max_size=2), max_size=5), max_size=2)
    .map(lambda c: {"type": "Polygon", "coordinates": c}),
    st.just({"interval": ["2024-01-01", ".."]}),
)
json_operand = st.one_of(json_literal, st.sampled_from(PROPERTIES).map(lambda p: {"property": p}),
                         st.just({"property": ["name"]}), st.just({"property": 5}))
OPERATORS = ["and", "or", "not", "=", "<>", "<", ">=", "like", "between", "in", "isNull",
             "s_intersects", "s_within", "t_after", "t_during", "a_contains", "casei", "+", "nope", 5]
json_filter = st.recursive(
    st.fixed_dictionaries({"op": st.sampled_from(OPERATORS),
                           "args": st.lists(json_operand, max_size=4)}),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"op": st.sampled_from(OPERATORS),
                               "args": st.lists(st.one_of(inner, json_operand), max_size=4)}),
        st.fixed_dictionaries({"op": st.just("in"), "args": st.tuples(
            json_operand, st.lists(json_literal, max_size=4)).map(list)}),
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=2),
    ),
    max_leaves=10,
)
json_noise = st.recursive(st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), odd_text),
                          lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                  st.dictionaries(st.text(max_size=4), inner,
                                                                  max_size=3)),
                          max_leaves=20)


def _check(live: LiveServer, layer: str, params: dict[str, Any]) -> None:
    try:
        response = live.get(f"/collections/{layer}/items", params={**params, "limit": 2})
    except httpx.TransportError as exc:  # a dead worker shows as a dropped connection
        raise AssertionError(f"no answer to {params!r}: {exc!r}") from exc
    assert response.status_code < 500, (params, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert body["code"] and len(body["description"]) > 10, body


@FUZZ
@given(layer=st.sampled_from(LAYERS), expression=text_filter)
def test_cql2_text_filters(live: LiveServer, layer: str, expression: str) -> None:
    _check(live, layer, {"filter": expression})


@settings(FUZZ, max_examples=100)
@given(layer=st.sampled_from(LAYERS), expression=token_soup)
def test_cql2_text_noise(live: LiveServer, layer: str, expression: str) -> None:
    _check(live, layer, {"filter": expression})


@FUZZ
@given(layer=st.sampled_from(LAYERS), expression=st.one_of(json_filter, json_noise),
       nesting=st.integers(min_value=0, max_value=45))
def test_cql2_json_filters(live: LiveServer, layer: str, expression: object, nesting: int) -> None:
    for _ in range(nesting):  # wrap in NOTs: on both sides of the nesting limit
        expression = {"op": "not", "args": [expression]}
    _check(live, layer, {"filter": json.dumps(expression, ensure_ascii=False),
                         "filter-lang": "cql2-json"})


def test_the_service_still_answers_after_the_fuzz(live: LiveServer) -> None:
    assert live._process is not None and live._process.poll() is None
    assert live.get("/healthz").status_code == 200
    assert live.get("/collections/meeting_places/items", params={
        "filter": "name LIKE 'GWG%'"}).json()["numberReturned"] >= 1
