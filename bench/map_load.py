"""Time until the planner map has drawn a 100,000-point layer, in headless Debian Chromium.

Usage: .venv/bin/python bench/map_load.py [--points 100000] [--runs 3]

Starts a private PostGIS cluster in a temporary folder, migrates it, loads the demo data, adds
a custom point layer ``bench_points`` filled with generated points in Lower Saxony by one SQL
statement, serves the real service on loopback (basemap: a local 1x1-PNG tile server) and opens
``/planung`` with only that layer, twice per run:

* state view (zoom 8): the whole layer is in view; the page gets ``numberMatched`` from the
  items API and draws counts per grid cell computed in PostGIS;
* town view (zoom 13): single markers (clustered) from the items API by bbox.

Prints the median time from navigation start until the layer's markers are in the DOM.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo_service.demo import load_demo  # noqa: E402
from geo_service.layers import Registry  # noqa: E402
from geo_service.settings import Settings  # noqa: E402
from tests.maps.conftest import CHROMIUM_ARGS, _Tiles  # noqa: E402
from tests.utils.db import TestCluster  # noqa: E402
from tests.utils.server import LiveServer  # noqa: E402

LAYER = """\
title: {de: Benchmark-Punkte, en: Benchmark points}
geometry_type: Point
licence: CC0-1.0
style: {color: "#1f78b4", icon: circle}
popup: [name]
properties:
  - {name: name, type: string, required: true, title: {de: Name, en: Name}}
"""
VIEWS = {"state (zoom 8, grid counts)": (52.6, 9.4, 8), "town (zoom 13, markers)": (52.27, 10.52, 13)}


def fill(url: str, points: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO features (layer, properties, geom) "
            "SELECT 'bench_points', jsonb_build_object('name', 'Punkt ' || i), "
            "ST_SetSRID(ST_MakePoint(6.9 + random() * 4.5, 51.5 + random() * 2.2), 4326) "
            "FROM generate_series(1, %s) AS i", [points])
        conn.execute("ANALYZE features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="qk-map-bench-"))
    layers = folder / "layers"
    shutil.copytree(ROOT / "layers", layers)
    (layers / "bench_points.yaml").write_text(LAYER, encoding="utf-8")
    cluster = TestCluster()
    tiles = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    try:
        cluster.migrate_template()
        settings = Settings(_env_file=None, database_url=cluster.url, layers_dir=layers,
                            data_dir=folder / "data",
                            basemap_url=f"http://127.0.0.1:{tiles.server_address[1]}/{{z}}/{{x}}/{{y}}.png")
        load_demo(cluster.url, Registry.from_dir(layers), settings=settings)
        started = time.perf_counter()
        fill(cluster.url, args.points)
        print(f"generated {args.points:,} points in {time.perf_counter() - started:.1f} s")
        with LiveServer(settings, log=folder / "server.log") as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for label, (lat, lon, zoom) in VIEWS.items():
                times = []
                for _ in range(args.runs):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.route("**/*", lambda route, request: route.continue_()
                               if "127.0.0.1" in request.url.split("/")[2] else route.abort())
                    begin = time.perf_counter()
                    page.goto(f"{server.url}/planung?layers=bench_points&lat={lat}&lon={lon}&zoom={zoom}")
                    page.wait_for_selector(".qk-layer-bench_points", timeout=120_000)
                    times.append(time.perf_counter() - begin)
                    drawn = page.locator(".qk-layer-bench_points").count()
                    page.close()
                print(f"{label}: median {statistics.median(times) * 1000:.0f} ms until markers "
                      f"drawn ({drawn} marker elements; runs: "
                      f"{', '.join(f'{t * 1000:.0f}' for t in times)} ms)")
            browser.close()
    except Exception:
        log = folder / "server.log"
        if log.exists():
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        tiles.shutdown()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
