"""PostgreSQL restarting under load: 503 while it is gone, full recovery without a service restart."""

from __future__ import annotations

import threading
import time

import httpx

from geo_service.auth import create_key
from geo_service.db.local import LocalCluster
from tests.conftest import make_settings
from tests.utils.builders import count
from tests.utils.db import TestCluster
from tests.utils.server import LiveServer


def _restart(cluster: LocalCluster) -> None:
    cluster.stop()
    time.sleep(1.5)  # long enough for requests to meet a database that is gone
    cluster.start()


def test_database_restart_under_load() -> None:
    own = TestCluster()  # a cluster of its own: restarting it disturbs no other test
    try:
        own.migrate_template()
        url = own.url
        key = create_key(url, role="editor", layers=["spielplaetze"], districts=[],
                         organisation=None, label="fault test")
        headers = {"Authorization": f"Bearer {key.token}"}
        acknowledged: list[int] = []
        statuses: list[int] = []
        lock = threading.Lock()
        stop = threading.Event()

        with LiveServer(make_settings(url)) as live:
            def worker(n: int) -> None:
                with httpx.Client(base_url=live.url, timeout=30) as client:
                    for i in range(400):  # bounded
                        if stop.is_set():
                            break
                        feature = {"type": "Feature",
                                   "geometry": {"type": "Point", "coordinates": [9.7 + n * 0.01, 52.37]},
                                   "properties": {"name": f"Spielplatz {n}-{i}"}}
                        try:
                            response = client.post("/collections/spielplaetze/items", json=feature,
                                                   headers=headers)
                            read = client.get("/collections/spielplaetze/items?limit=1")
                        except httpx.TransportError:
                            continue
                        with lock:
                            statuses.extend([response.status_code, read.status_code])
                            if response.status_code == 201:
                                acknowledged.append(response.json()["id"])
                        time.sleep(0.01)

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(2)
            _restart(own.cluster)
            time.sleep(3)
            stop.set()
            for thread in threads:
                thread.join(timeout=120)

            # Back: every request succeeds again, with the same service process.
            after = [live.get("/collections/spielplaetze/items?limit=5").status_code for _ in range(10)]
            assert after == [200] * 10
            made = live.client.post("/collections/spielplaetze/items", headers=headers, json={
                "type": "Feature", "geometry": {"type": "Point", "coordinates": [9.8, 52.3]},
                "properties": {"name": "Nach dem Neustart"}})
            assert made.status_code == 201
            acknowledged.append(made.json()["id"])

        assert 500 not in statuses, sorted(set(statuses))
        assert 503 in statuses  # the outage was seen, and answered as such
        assert set(statuses) <= {200, 201, 503}
        stored = count(url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")
        assert stored == len(acknowledged) == len(set(acknowledged))
    finally:
        own.stop()
