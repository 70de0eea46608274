"""Keyset (cursor) paging: no feature skipped or repeated while inserts happen; offset still works."""

from __future__ import annotations

import base64
import json

import pytest

from tests.utils.builders import add_custom_points, add_meeting_place
from tests.utils.server import LiveServer


def _next(doc: dict) -> str | None:  # type: ignore[type-arg]
    return next((link["href"] for link in doc["links"] if link["rel"] == "next"), None)


def _points(names: list[str], lon: float = 9.9) -> list[tuple[float, float, dict[str, str]]]:
    return [(lon + i * 0.0001, 52.3, {"name": name}) for i, name in enumerate(names)]


def test_cursor_pages_skip_and_repeat_nothing_while_inserts_happen(server: LiveServer,
                                                                   db_url: str) -> None:
    originals = [f"P{i:03d}" for i in range(120)]
    add_custom_points(db_url, "spielplaetze", _points(originals))
    url: str | None = "/collections/spielplaetze/items?sortby=name&limit=25"
    seen_ids: list[int] = []
    seen_names: list[str] = []
    pages = 0
    while url and pages < 50:
        doc = server.get(url).json()
        seen_ids += [f["id"] for f in doc["features"]]
        seen_names += [f["properties"]["name"] for f in doc["features"]]
        url = _next(doc)
        if url:
            assert "cursor=" in url and "offset=" not in url
        # Between pages, others insert features that sort before and after the current position.
        add_custom_points(db_url, "spielplaetze", _points([f"A-neu-{pages}", f"Z-neu-{pages}"], 9.8))
        pages += 1
    assert url is None, "paging did not end"
    assert len(seen_ids) == len(set(seen_ids)), "a feature came twice"
    assert set(originals) <= set(seen_names), "a feature was skipped"
    assert seen_names == sorted(seen_names)  # one consistent order across pages


def test_offset_pages_would_repeat_a_feature_on_insert(server: LiveServer, db_url: str) -> None:
    """The control for the test above: with offsets, an insert before the position repeats."""
    add_custom_points(db_url, "spielplaetze", _points([f"P{i:03d}" for i in range(60)]))
    first = server.get("/collections/spielplaetze/items?sortby=name&limit=25").json()
    add_custom_points(db_url, "spielplaetze", _points(["A-vorne"], 9.8))
    second = server.get("/collections/spielplaetze/items?sortby=name&limit=25&offset=25").json()
    repeated = {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}
    assert repeated
    by_cursor = server.get(_next(first) or "").json()
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in by_cursor["features"]}


def test_cursor_with_descending_nullable_and_tied_keys(server: LiveServer, db_url: str) -> None:
    for i in range(7):
        add_meeting_place(db_url, name=f"Datumstreff {i}", lon=10.5 + i * 0.001, lat=52.4,
                          last_checked="2025-03-01" if i % 2 else None)
    whole = server.get("/collections/meeting_places/items",
                       params={"sortby": "-last_checked,name", "limit": 1000}).json()
    expected = [f["id"] for f in whole["features"]]
    got: list[int] = []
    url: str | None = "/collections/meeting_places/items?sortby=-last_checked,name&limit=3"
    for _ in range(200):
        if not url:
            break
        doc = server.get(url).json()
        got += [f["id"] for f in doc["features"]]
        url = _next(doc)
    assert got == expected


def test_offset_still_works_with_prev_links(module_server: LiveServer) -> None:
    whole = module_server.get("/collections/meeting_places/items?limit=6").json()["features"]
    page = module_server.get("/collections/meeting_places/items?limit=2&offset=2").json()
    assert [f["id"] for f in page["features"]] == [f["id"] for f in whole[2:4]]
    prev = next(link["href"] for link in page["links"] if link["rel"] == "prev")
    assert "offset" not in prev
    assert [f["id"] for f in module_server.get(prev).json()["features"]] == [f["id"] for f in whole[:2]]
    following = module_server.get(_next(page) or "").json()
    assert [f["id"] for f in following["features"]] == [f["id"] for f in whole[4:6]]


def _cursor(values: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize("params", [
    {"cursor": "nicht base64 !"},
    {"cursor": _cursor([1]), "offset": "5"},
    {"cursor": _cursor(["Name", 3])},  # from another sort order
    {"cursor": _cursor([2**70])},
    {"cursor": _cursor(["x", 3]), "sortby": "last_checked"},
    {"cursor": _cursor([{"a": 1}, 3]), "sortby": "name"},
])
def test_bad_cursors_are_400(module_server: LiveServer, params: dict[str, str]) -> None:
    response = module_server.get("/collections/meeting_places/items", params=params)
    assert response.status_code == 400, response.text
    assert "cursor" in response.json()["detail"]
