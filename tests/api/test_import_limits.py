"""Bounded imports, against the running service with its shipped limits: a zip bomb is refused
within bounded memory while other clients keep being answered, a file with too many features is
refused before validation, and a file full of bad rows gets a report of bounded size."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geo_service.auth import create_key
from geo_service.settings import Settings
from tests.conftest import make_settings
from tests.io.files import playgrounds, write, zip_bomb, zip_shapefile
from tests.utils.builders import count
from tests.utils.imports import settled
from tests.utils.procs import TreeSampler, peak_rss_kb
from tests.utils.server import LiveServer

PATH = "/collections/spielplaetze/import"
SHIPPED = Settings(_env_file=None)


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[LiveServer]:
    with LiveServer(make_settings(module_db_url)) as live:
        yield live


@pytest.fixture(scope="module")
def headers(module_db_url: str) -> dict[str, str]:
    key = create_key(module_db_url, role="editor", layers=["spielplaetze"], districts=[],
                     organisation=None, label="grenzen")
    return {"Authorization": f"Bearer {key.token}"}


class ReadProbe:
    """Reads a page of items over and over from another connection, timing each answer."""

    def __init__(self, url: str):
        self.url = url
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._warm = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            client.get("/collections/meeting_places/items", params={"limit": 5})  # warm up
            self._warm.set()
            while not self._stop.is_set():
                started = time.perf_counter()
                response = client.get("/collections/meeting_places/items", params={"limit": 5})
                self.latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    self.failures.append(response.text[:200])
                self._stop.wait(0.05)

    def __enter__(self) -> ReadProbe:
        self._thread.start()
        self._warm.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_zip_bomb_is_refused_in_bounded_memory_while_reads_go_on(
        server: LiveServer, headers: dict[str, str], module_db_url: str, tmp_path: Path) -> None:
    shp = zip_shapefile(playgrounds(1), tmp_path / "teile", "teile", "utf-8")
    bombs = {
        # The case: a few MB of zip, a 1 GB .dbf.
        "honest": zip_bomb(tmp_path / "bombe.zip", unpacked_mb=1024,
                           shapefile=tmp_path / "teile" / "teile.shp"),
        # The same, claiming in its directory to be small.
        "lying": zip_bomb(tmp_path / "luege.zip", unpacked_mb=1024, declared_mb=1,
                          shapefile=tmp_path / "teile" / "teile.shp"),
    }
    assert shp.exists() and all(b.stat().st_size < 15_000_000 for b in bombs.values())
    before = count(module_db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")
    server_before = peak_rss_kb(server.pid)
    answers = {}
    with ReadProbe(server.url) as probe, TreeSampler(server.pid) as jobs:
        time.sleep(0.5)
        for name, bomb in bombs.items():
            answers[name] = server.client.post(PATH, params={"filename": "spielplaetze.zip"},
                                               content=bomb.read_bytes(), headers=headers)
        time.sleep(0.5)
    honest, lying = answers["honest"], answers["lying"]
    assert honest.status_code == 413, honest.text
    assert "entpackt größer als 200 MB" in honest.json()["detail"]
    assert lying.status_code in (400, 413), lying.text
    assert len(honest.content) < 10_000 and len(lying.content) < 10_000
    server_growth_mb = (peak_rss_kb(server.pid) - server_before) / 1024
    job_peak_mb = jobs.max_kb / 1024
    slowest = max(probe.latencies)
    print(f"\nzip bomb: server peak RSS +{server_growth_mb:.0f} MB "
          f"(now {peak_rss_kb(server.pid) / 1024:.0f} MB), job processes peak "
          f"{job_peak_mb:.0f} MB, {len(probe.latencies)} reads meanwhile, slowest "
          f"{slowest * 1000:.0f} ms")
    assert server_growth_mb < 100
    assert job_peak_mb < 1024  # the issue: 7 GB
    assert not probe.failures and len(probe.latencies) >= 5
    assert slowest < 1.0
    assert count(module_db_url,
                 "SELECT count(*) FROM features WHERE layer = 'spielplaetze'") == before


def test_more_features_than_allowed_are_refused_before_validation(
        server: LiveServer, headers: dict[str, str], tmp_path: Path) -> None:
    limit = SHIPPED.import_max_features
    path = tmp_path / "viele.geojson"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [\n')
        out.write(",\n".join(
            '{"type": "Feature", "properties": {}, "geometry": {"type": "Point", '
            f'"coordinates": [10.{i % 9000:04d}, 52.4]}}}}' for i in range(limit + 1)))
        out.write("]}\n")
    assert path.stat().st_size < SHIPPED.max_upload_mb * 1_000_000
    response = server.client.post(PATH, params={"filename": "viele.geojson"},
                                  content=path.read_bytes(), headers=headers, timeout=300)
    status, doc = settled(server.client, response, headers)
    assert status == 413, str(doc)[:500]
    detail = doc["detail"]
    assert f"{limit + 1:,}".replace(",", ".") in detail and "IMPORT_MAX_FEATURES" in detail


def test_a_file_of_bad_rows_gets_a_bounded_report_with_counts(
        server: LiveServer, headers: dict[str, str], module_db_url: str) -> None:
    rows = 5000
    csv = "name;age_group;lon;lat\n" + "".join(
        f"Platz {i};{'99+' if i % 2 else 'alle'};10,5;{'' if i % 5 == 0 else '52,4'}\n"
        for i in range(rows))
    before = count(module_db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")
    response = server.client.post(PATH, params={"filename": "fehler.csv"}, content=csv.encode(),
                                  headers={**headers, "Content-Type": "text/csv"}, timeout=120)
    status, doc = settled(server.client, response, headers)
    assert status == 400, str(doc)[:300]
    bad = sum(1 for i in range(rows) if i % 2 or i % 5 == 0)
    assert doc["rejected_count"] == bad
    assert len(doc["rejected"]) == SHIPPED.import_report_rejections
    assert doc["rejected_unlisted"] == bad - SHIPPED.import_report_rejections
    assert doc["rejected"][0]["number"] == 2 and doc["rejected"][0]["unit"] == "Zeile"
    reasons = {r["reason"]: r["count"] for r in doc["reasons"]}
    assert sum(n for kind, n in reasons.items() if "»age_group«" in kind) == rows // 2
    assert sum(n for kind, n in reasons.items() if "Koordinaten fehlen" in kind) == rows // 5
    assert f"{bad:,} von {rows:,} Objekten abgelehnt".replace(",", ".") in doc["description"]
    assert "weitere abgelehnte Objekte" in doc["summary"]
    assert len(httpx.Response(200, json=doc).content) < 1_000_000
    assert count(module_db_url,
                 "SELECT count(*) FROM features WHERE layer = 'spielplaetze'") == before


def test_reasons_count_like_sentences_not_like_values(server: LiveServer,
                                                      headers: dict[str, str],
                                                      tmp_path: Path) -> None:
    data = playgrounds(3)
    data["age_group"] = ["99+", "100+", "alle"]
    response = server.client.post(PATH, params={"filename": "zwei.geojson"},
                                  content=write(data, tmp_path / "zwei.geojson").read_bytes(),
                                  headers=headers)
    assert response.status_code == 400
    doc = response.json()
    assert [r["number"] for r in doc["rejected"]] == [1, 2]
    assert len(doc["reasons"]) == 1 and doc["reasons"][0]["count"] == 2
