"""The counting rule: exact numberMatched up to count_exact_limit, then left out or estimated."""

from __future__ import annotations

import psycopg

from tests.conftest import make_settings
from tests.utils.builders import add_custom_points, count
from tests.utils.server import LiveServer


def _fill(db_url: str, n: int) -> int:
    add_custom_points(db_url, "spielplaetze", [
        (9.0 + (i % 40) * 0.01, 52.0 + (i // 40) * 0.01, {"name": f"Zählplatz {i}"}) for i in range(n)
    ])
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE features")
    return count(db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")


def test_small_results_are_counted_exactly(module_server: LiveServer, module_db_url: str) -> None:
    total = count(module_db_url, "SELECT count(*) FROM meeting_places")
    doc = module_server.get("/collections/meeting_places/items?limit=2").json()
    assert doc["numberMatched"] == total and doc["numberReturned"] == 2
    assert "numberMatchedEstimated" not in doc


def test_large_results_leave_numbermatched_out(pg_cluster, db_url: str) -> None:  # type: ignore[no-untyped-def]
    total = _fill(db_url, 120)
    with LiveServer(make_settings(db_url, count_exact_limit=50)) as live:
        big = live.get("/collections/spielplaetze/items?limit=10").json()
        assert "numberMatched" not in big and big["numberReturned"] == 10
        assert any(link["rel"] == "next" for link in big["links"])  # paging needs no count
        # A filter that matches fewer than the limit is counted exactly.
        small = live.get("/collections/spielplaetze/items",
                         params={"bbox": "8.995,51.995,9.095,52.005", "limit": 5}).json()
        assert small["numberMatched"] == 10 and small["numberReturned"] == 5
        # A page that holds everything is its own count, whatever the limit says.
        whole = live.get("/collections/spielplaetze/items?limit=1000").json()
        assert whole["numberMatched"] == whole["numberReturned"] == total
        # Every page of a large result follows the same rule, reached by cursor or by offset.
        second = live.get(next(l["href"] for l in big["links"] if l["rel"] == "next")).json()
        assert "numberMatched" not in second
        last = live.get(f"/collections/spielplaetze/items?limit=10&offset={total - 3}").json()
        assert last["numberMatched"] == total and last["numberReturned"] == 3


def test_large_results_can_be_estimated(pg_cluster, db_url: str) -> None:  # type: ignore[no-untyped-def]
    total = _fill(db_url, 120)
    with LiveServer(make_settings(db_url, count_exact_limit=50, count_estimate=True)) as live:
        doc = live.get("/collections/spielplaetze/items?limit=10").json()
    assert doc["numberMatchedEstimated"] is True
    assert 50 < doc["numberMatched"] < 10 * total  # the planner's estimate, not the count


def test_counting_can_be_switched_off(pg_cluster, db_url: str) -> None:  # type: ignore[no-untyped-def]
    _fill(db_url, 30)
    with LiveServer(make_settings(db_url, count_exact_limit=0)) as live:
        assert "numberMatched" not in live.get("/collections/spielplaetze/items?limit=5").json()
        assert live.get("/collections/quartiers/items?limit=1000").json()["numberMatched"] > 0
