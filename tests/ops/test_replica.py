"""A real primary and streaming replica: reads are answered by the replica, writes land on the
primary, a lagging or stopped replica is survived by reading from the primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from geo_service.auth import create_key
from geo_service.db.engine import upgrade
from geo_service.demo import load_demo
from geo_service.layers import Registry
from tests.conftest import make_settings
from tests.utils.replica import ReplicaPair
from tests.utils.served import ServedService

ROOT = Path(__file__).resolve().parents[2]
ITEMS = "/collections/meeting_places/items"


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicaPair]:
    pair = ReplicaPair()
    try:
        upgrade(pair.primary_url)
        load_demo(pair.primary_url, Registry.from_dir(ROOT / "layers"),
                  settings=make_settings(pair.primary_url))
        pair.start_replica()
        pair.wait_until_replayed()
        yield pair
    finally:
        pair.stop()


def _service_connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'geo-service' "
            "AND datname = current_database()").fetchone()[0]  # type: ignore[index]


def _place(name: str) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [9.955, 52.17]},
            "properties": {"name": name, "kind": "Nachbarschaftstreff", "town": "Hildesheim"}}


def test_reads_from_replica_writes_to_primary_and_fallbacks(pair: ReplicaPair) -> None:
    auth = {"Authorization": "Bearer " + create_key(
        pair.primary_url, role="admin", layers=[], districts=[], organisation=None,
        label="replica test").token}
    pair.wait_until_replayed()
    patient = make_settings(pair.primary_url, database_read_url=pair.replica_url,
                            database_read_max_lag_s=3600, database_read_check_s=0.2)
    strict = make_settings(pair.primary_url, database_read_url=pair.replica_url,
                           database_read_max_lag_s=1.0, database_read_check_s=0.2)
    with ServedService(patient) as live, ServedService(strict) as live_strict:
        # 1. Reads are answered by the replica: the service holds connections there.
        before = live.get(ITEMS, params={"limit": 1000}).json()["numberMatched"]
        assert before > 0
        assert _service_connections(pair.replica_url) >= 1

        # 2. Freeze the replica, then write through the service: the row is on the primary
        #    only, and the patient service (lag limit 1 h) does not see it: it reads the replica.
        with psycopg.connect(pair.replica_url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        created = live.client.post(ITEMS, json=_place("Treff nur auf dem Primärserver"),
                                   headers=auth)
        assert created.status_code == 201, created.text
        new_id = created.json()["id"]
        with psycopg.connect(pair.primary_url) as conn:
            assert conn.execute("SELECT name FROM meeting_places WHERE id = %s",
                                (new_id,)).fetchone() == ("Treff nur auf dem Primärserver",)
        with psycopg.connect(pair.replica_url) as conn:
            assert conn.execute("SELECT 1 FROM meeting_places WHERE id = %s",
                                (new_id,)).fetchone() is None
        time.sleep(0.3)  # past the patient service's check interval: it measures the lag anew
        assert live.get(f"{ITEMS}/{new_id}").status_code == 404
        assert live.get(ITEMS, params={"limit": 1000}).json()["numberMatched"] == before

        # 3. The strict service (lag limit 1 s) falls back to the primary once the replica lags.
        time.sleep(1.5)
        assert live_strict.get(f"{ITEMS}/{new_id}").status_code == 200
        assert live_strict.get(ITEMS, params={"limit": 1000}).json()["numberMatched"] == before + 1
        metrics = live_strict.metrics()
        assert 'geo_service_db_reads_total{target="primary"}' in metrics

        # 4. Replay resumes: the replica catches up and serves the new row.
        with psycopg.connect(pair.replica_url, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        pair.wait_until_replayed()
        time.sleep(0.3)
        assert live.get(f"{ITEMS}/{new_id}").status_code == 200

        # 5. The replica goes away: every read still succeeds, from the primary.
        pair.stop_replica()
        for _ in range(5):
            response = live.get(ITEMS, params={"limit": 1000})
            assert response.status_code == 200, response.text
            assert response.json()["numberMatched"] == before + 1
            assert live.get(f"{ITEMS}/{new_id}").status_code == 200
        assert live.get("/healthz").status_code == 200
        assert live.get("/readyz").status_code == 200
        metrics = live.metrics()
        assert 'geo_service_db_reads_total{target="replica"}' in metrics
        assert 'geo_service_db_reads_total{target="primary"}' in metrics
        assert "geo_service_db_replica_lag_seconds -1.0" in metrics
