"""Request ids, JSON request logs without client addresses, /metrics (on the internal listener),
/healthz and /readyz."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from geo_service.ops.logging import anonymise_ip
from tests.conftest import make_settings
from tests.utils.served import ServedService
from tests.utils.server import LiveServer


@pytest.fixture(scope="module")
def logged_server(module_db_url: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[LiveServer]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    with LiveServer(make_settings(module_db_url), log=log) as live:
        yield live


@pytest.fixture(scope="module")
def served(module_db_url: str) -> Iterator[ServedService]:
    """As in production: ``geo-service serve``, metrics on its internal listener."""
    with ServedService(make_settings(module_db_url)) as live:
        yield live


def _log_lines(path: Path, wait_for: str = "") -> list[dict[str, object]]:
    """The JSON lines of the server's log; waits briefly for a line containing ``wait_for``
    (a request's line is written just after its response has been sent)."""
    deadline = time.monotonic() + 5
    while True:
        text = path.read_text(encoding="utf-8")
        if wait_for in text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit(" ", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_request_id_is_accepted_returned_and_logged(logged_server: LiveServer) -> None:
    mine = "test-4711-abcdef"
    response = logged_server.get("/collections/meeting_places/items", params={"limit": 2},
                                 headers={"X-Request-ID": mine,
                                          "X-Forwarded-For": "203.0.113.77"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == mine
    logged = [line for line in _log_lines(logged_server.log, mine)  # type: ignore[arg-type]
              if line.get("request_id") == mine]
    assert len(logged) == 1
    line = logged[0]
    assert line["logger"] == "geo_service.access"
    assert line["method"] == "GET"
    assert line["path"] == "/collections/meeting_places/items"
    assert line["route"] == "/collections/{layer}/items"
    assert line["layer"] == "meeting_places"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)


def test_generated_request_id_when_missing_or_insane(logged_server: LiveServer) -> None:
    plain = logged_server.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", plain.headers["X-Request-ID"])
    hostile = logged_server.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert hostile.headers["X-Request-ID"] != "<script>alert(1)</script>"
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["X-Request-ID"])
    # every response carries one, also errors
    missing = logged_server.get("/collections/no_such_layer/items")
    assert missing.status_code == 404
    assert missing.headers["X-Request-ID"]


def test_logs_hold_no_query_strings_nor_full_addresses(logged_server: LiveServer) -> None:
    secret_position = "52.123456"
    marker = "near-me-privacy-check"
    logged_server.get("/nearby", params={"lat": secret_position, "lon": "9.876543"},
                      headers={"X-Forwarded-For": "198.51.100.23", "X-Request-ID": marker})
    _log_lines(logged_server.log, marker)  # type: ignore[arg-type]
    text = logged_server.log.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert secret_position not in text
    assert "198.51.100.23" not in text
    assert "203.0.113.77" not in text
    assert "127.0.0.1" not in text
    assert any(line.get("client_net") == "198.51.100.0/24" for line in _log_lines(
        logged_server.log))  # type: ignore[arg-type]


def test_anonymise_ip_cuts_to_network() -> None:
    assert anonymise_ip("203.0.113.77") == "203.0.113.0/24"
    assert anonymise_ip("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert anonymise_ip("::ffff:192.0.2.9") == "192.0.2.0/24"
    assert anonymise_ip("not an address") is None


def test_metrics_show_the_requests_made(served: ServedService) -> None:
    before = served.metrics()
    labels = {"method": "GET", "route": "/collections/{layer}/items", "layer": "offers",
              "status": "200"}
    count_before = _metric(before, "geo_service_http_requests_total", **labels)
    for _ in range(3):
        assert served.get("/collections/offers/items", params={"limit": 1}).status_code == 200
    served.get("/collections/offers/items/987654321")
    after = httpx.get(served.metrics_url)
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert _metric(text, "geo_service_http_requests_total", **labels) == count_before + 3
    assert _metric(text, "geo_service_http_requests_total", method="GET",
                   route="/collections/{layer}/items/{feature_id}", layer="offers",
                   status="404") >= 1
    assert _metric(text, "geo_service_http_request_duration_seconds_count", method="GET",
                   route="/collections/{layer}/items", layer="offers") >= 3
    # label by template only: no raw URL, no query string, no item id in any label
    assert "987654321" not in text and "limit=" not in text
    assert _metric(text, "geo_service_db_pool_connections", engine="primary", state="idle") >= 1


def test_unknown_paths_share_one_label(served: ServedService) -> None:
    for n in range(3):
        served.get(f"/random/{n}/path")
    text = served.metrics()
    assert "/random/" not in text
    assert _metric(text, "geo_service_http_requests_total", route="unmatched", status="404") >= 3


def test_readyz_is_ready_at_head(logged_server: LiveServer) -> None:
    response = logged_server.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert logged_server.get("/healthz").status_code == 200


def test_readyz_refuses_an_old_schema_with_the_reason(db_url: str) -> None:
    with LiveServer(make_settings(db_url)) as live:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0001'")
        response = live.get("/readyz")
        assert response.status_code == 503
        assert "geo-service db upgrade" in response.json()["reason"]
        assert live.get("/healthz").status_code == 200  # alive all the same


def test_unexpected_errors_carry_the_request_id_and_no_details(db_url: str) -> None:
    import asyncio

    import httpx

    from geo_service.api.app import create_app

    app = create_app(make_settings(db_url))

    @app.get("/kaputt-fuer-den-test")
    async def fail() -> None:
        raise RuntimeError("interne Einzelheit")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/kaputt-fuer-den-test",
                                    headers={"X-Request-ID": "boom-request-1"})

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "boom-request-1"
    assert "interne Einzelheit" not in response.text
    assert response.json()["code"] == "ServerError"
