"""Side by side (issue 6): Quartierskarte, tipg and pygeoapi on the same tables, bare SQL as floor.

One private cluster holds N generated meeting places and M quartier polygons (COPY). The real
service and both peers (each from PyPI in its own venv, one worker, loopback, no access log, no
compression, the same properties, page limit and tile cap) answer the same request mix at 1 and
8 concurrent clients; the service's own statements, run bare with psycopg, are the floor. Then the
CLI import of a GeoPackage is timed against ogr2ogr. ``bench/run --help`` lists the options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
import psycopg

from bench import sql as bench_sql
from bench.cluster import BenchCluster
from bench.data import LOWER_SAXONY, load_meeting_places
from bench.features import check_plans, returned, sql_worker
from bench.importing import ImportTiming, time_cli_import, time_ogr2ogr, write_geopackage
from bench.measure import Row, Timing, measure
from bench.peers import PYGEOAPI, TIPG, Peer, Pygeoapi, Tipg
from bench.polygons import load_quartiers
from bench.profile import recording
from bench.service import ROOT, Service
from bench.workloads import WORKLOAD_SEED, bbox_size, random_bboxes, random_positions
from geo_service.db.engine import upgrade
from geo_service.layers import Registry
from geo_service.queries.paging import CountRule
from geo_service.settings import Settings

RESULTS = ROOT / "bench" / "results"
LAYER = "meeting_places"
PAGE = 1000
NEAREST = 10
CLIENTS = (1, 8)
WORKLOADS = ("items_bbox", "item", "tile", "nearby")
#: Every system gets the same request headers: no compression (the same for all; on loopback
#: it would only measure zlib), keep-alive.
HEADERS = {"Accept-Encoding": "identity"}
TMS = morecantile.tms.get("WebMercatorQuad")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="10,000 points, 100 quartiers, 10 requests per workload, a 1,000-point "
                             "import; peers only if already installed; under a minute")
    parser.add_argument("--points", type=int, default=None, help="meeting places (default 1,000,000)")
    parser.add_argument("--quartiers", type=int, default=None, help="quartier polygons (default 10,000)")
    parser.add_argument("--requests", type=int, default=None, help="requests per workload (default 200)")
    parser.add_argument("--import-points", type=int, default=None,
                        help="points in the GeoPackage for the import test (default 1,000,000; 0 skips)")
    parser.add_argument("--no-peers", action="store_true", help="measure Quartierskarte and SQL only")
    parser.add_argument("--output", type=Path, default=None,
                        help="results (default bench/results/latest.json; smoke: smoke-compare.json)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="py-spy profiles (collapsed stacks) of the service per workload into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.points = min(args.points or 10_000, 10_000)
        args.quartiers = args.quartiers or 100
        args.requests = args.requests or 10
        args.import_points = 1_000 if args.import_points is None else args.import_points
        args.output = args.output or RESULTS / "smoke-compare.json"
    args.points = args.points or 1_000_000
    args.quartiers = args.quartiers or 10_000
    args.requests = args.requests or 200
    args.import_points = 1_000_000 if args.import_points is None else args.import_points
    args.output = args.output or RESULTS / "latest.json"
    return args


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


@contextmanager
def http_worker(base_url: str, path: Callable[[Any], str]) -> Iterator[Callable[[Any], bytes]]:
    """One keep-alive client with the common headers; a job returns the body (200 or fails)."""
    with httpx.Client(base_url=base_url, timeout=120, headers=HEADERS) as client:
        def run(job: Any) -> bytes:
            response = client.get(path(job))
            if response.status_code != 200:
                raise RuntimeError(f"GET {path(job)} -> {response.status_code}: {response.text[:300]}")
            return response.content
        yield run


def random_tiles(count: int, *, seed: int) -> list[tuple[int, int, int]]:
    """Tiles at zoom 10–14 under random positions in Lower Saxony."""
    rng = np.random.default_rng(seed)
    zooms = rng.integers(10, 15, count).tolist()
    positions = random_positions(count, seed=seed + 1)
    return [(z, t.x, t.y) for z, (lon, lat) in zip(zooms, positions, strict=True)
            for t in [TMS.tile(lon, lat, z)]]


def mean_tile_features(bodies: list[bytes]) -> tuple[int, int]:
    """Mean features per tile and the largest tile in bytes (decoded after the timing)."""
    counts = [sum(len(layer["features"]) for layer in mapbox_vector_tile.decode(b).values())
              if b else 0 for b in bodies]
    return round(sum(counts) / len(counts)), max((len(b) for b in bodies), default=0)


# -- paths per system -------------------------------------------------------------------------

def paths(system: str, tile_properties: list[str]) -> dict[str, Callable[[Any], str]]:
    if system == "quartierskarte":
        base = f"/collections/{LAYER}"
        return {
            "items_bbox": lambda b: f"{base}/items?bbox={','.join(map(str, b))}&limit={PAGE}",
            "item": lambda i: f"{base}/items/{i}",
            "tile": lambda t: f"{base}/tiles/WebMercatorQuad/{t[0]}/{t[1]}/{t[2]}",
            "nearby": lambda p: f"/nearby?lon={p[0]}&lat={p[1]}&layers={LAYER}&limit={NEAREST}",
        }
    if system == "tipg":
        base = f"/collections/public.{LAYER}"
        props = ",".join(tile_properties)
        return {
            "items_bbox": lambda b: f"{base}/items?bbox={','.join(map(str, b))}&limit={PAGE}",
            "item": lambda i: f"{base}/items/{i}",
            "tile": lambda t: f"{base}/tiles/WebMercatorQuad/{t[0]}/{t[1]}/{t[2]}?properties={props}",
        }
    base = f"/collections/{LAYER}"
    return {
        "items_bbox": lambda b: f"{base}/items?bbox={','.join(map(str, b))}&limit={PAGE}&f=json",
        "item": lambda i: f"{base}/items/{i}?f=json",
    }


def format_comparison(rows: list[Row]) -> str:
    """One table: every system's figures, and Quartierskarte's ratios on its own lines."""
    by = {(r.system, r.workload, r.clients): r for r in rows}
    header = (f"{'workload':<11} {'clients':>7} {'system':<15} {'req/s':>9} {'p50 ms':>9} "
              f"{'p95 ms':>9}   {'QK/tipg':>8} {'QK/pygeoapi':>11} {'QK/SQL p50':>10}")
    lines = [header, "-" * len(header)]
    for workload in WORKLOADS:
        for clients in CLIENTS:
            qk = by.get(("quartierskarte", workload, clients))
            for system in ("quartierskarte", "tipg", "pygeoapi", "sql"):
                r = by.get((system, workload, clients))
                if r is None:
                    continue
                ratios = ""
                if system == "quartierskarte" and qk is not None:
                    t, p, s = (by.get((n, workload, clients)) for n in ("tipg", "pygeoapi", "sql"))
                    ratios = (f"   {f'{qk.rps / t.rps:.1f}x' if t else '-':>8} "
                              f"{f'{qk.rps / p.rps:.1f}x' if p else '-':>11} "
                              f"{f'{qk.p50_ms / s.p50_ms:.2f}x' if s else '-':>10}")
                lines.append(f"{workload:<11} {clients:>7} {system:<15} {r.rps:>9.1f} "
                             f"{r.p50_ms:>9.2f} {r.p95_ms:>9.2f}{ratios}")
    lines.append("(QK/tipg, QK/pygeoapi: ratio of requests/s; QK/SQL p50: latency over the bare SQL)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> tuple[list[Row], list[ImportTiming], dict[str, Any]]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    precision = settings.coordinate_precision
    rule = CountRule(settings.count_exact_limit, settings.count_estimate)
    layer = Registry.from_dir(ROOT / "layers").get(LAYER)
    assert layer is not None
    kinds = next(p for p in layer.properties if p.name == "kind").enum
    assert kinds
    properties = [p.db_column for p in layer.output_properties]
    tile_properties = [p.name for p in layer.tile_properties]

    n, warm = args.requests, 2 if args.smoke else 5
    boxes = random_bboxes(n + warm, bbox_size(args.points, PAGE))
    rng = np.random.default_rng(WORKLOAD_SEED + 2)
    ids = [int(i) for i in rng.integers(1, args.points + 1, n + warm)]
    tiles = random_tiles(n + warm, seed=WORKLOAD_SEED + 3)
    positions = random_positions(n + warm)
    jobs: dict[str, list[Any]] = {"items_bbox": boxes, "item": ids, "tile": tiles, "nearby": positions}

    systems: list[str] = ["quartierskarte"]
    skipped: dict[str, str] = {}
    if not args.no_peers:
        for spec in (TIPG, PYGEOAPI):
            if spec.installed() or not args.smoke:
                step(f"{spec.name}: venv {spec.venv} ({'cached' if spec.installed() else 'installing from PyPI'})")
                spec.install()
                systems.append(spec.name)
            else:
                skipped[spec.name] = "not installed (a full run installs it)"
    rows: list[Row] = []
    extra: dict[str, Any] = {"tile_max_bytes": {}, "features": {}, "skipped": skipped}

    def record(system: str, workload: str, clients: int, timing: Timing, features: int) -> None:
        row = Row.of(system, workload, clients, timing, features=features)
        rows.append(row)
        step(f"{system:<14} {workload:<10} {clients} client{'s' if clients > 1 else ' '} "
             f"p50 {row.p50_ms:8.2f} ms  p95 {row.p95_ms:8.2f} ms  {row.rps:8.1f} req/s  (~{features} features)")

    def features_of(workload: str, bodies: list[bytes], system: str) -> int:
        if workload == "tile":
            mean, biggest = mean_tile_features(bodies)
            extra["tile_max_bytes"][system] = biggest
            return mean
        if workload == "item":
            return 1
        return returned(bodies)

    with BenchCluster(keep=args.keep) as db:
        step(f"private cluster in {db.folder} on port {db.cluster.port}, migrated")
        report = load_quartiers(db.url, args.quartiers)
        step(f"loaded {report.rows:,} quartier polygons in {report.seconds:.1f} s (COPY)")
        report = load_meeting_places(db.url, args.points, kinds)
        step(f"loaded {report.rows:,} points in {report.seconds:.1f} s "
             f"({report.rows / report.seconds:,.0f}/s, COPY, indexes rebuilt, VACUUM ANALYZE)")
        check_plans(db.url, layer, boxes[0], positions[0], precision)

        statements: dict[str, Callable[[Any], bench_sql.Statement]] = {
            "items_bbox": lambda b: bench_sql.items_page(layer, b, limit=PAGE, precision=precision,
                                                         rule=rule),
            "item": lambda i: bench_sql.item(layer, i, precision=precision),
            "tile": lambda t: bench_sql.tile(layer, *t, max_features=settings.tile_max_features),
            "nearby": lambda p: bench_sql.nearby(layer, *p, limit=NEAREST, precision=precision),
        }
        for workload in WORKLOADS:
            for clients in CLIENTS:
                timing = measure(lambda w=workload: sql_worker(db.url, statements[w]),
                                 jobs[workload][warm:], clients=clients, warmup=jobs[workload][:warm])
                record("sql", workload, clients, timing, 0)

        def serve(system: str) -> Service | Peer:
            folder = Path(db.folder)
            if system == "quartierskarte":
                # The peers have no rate limiter; ours (a counter row per client network in
                # PostgreSQL) would also turn this load into 429s. Off, as for a trusted proxy.
                return Service(db.url, folder, settings={"GEO_SERVICE_RATE_LIMIT_READS": "0"})
            if system == "tipg":
                return Tipg(folder, db.url, properties=properties, max_limit=settings.max_limit,
                            tile_max_features=settings.tile_max_features, tile_buffer=64)
            return Pygeoapi(folder, db.url, properties=properties, max_limit=settings.max_limit)

        for system in systems:
            with serve(system) as server:
                step(f"{system} (uvicorn, 1 worker) on {server.url}, pid {server.pid}")
                for workload, path in paths(system, tile_properties).items():
                    for clients in CLIENTS:
                        output = (args.profile / f"{system}-{workload}-{clients}.txt"
                                  if args.profile and system == "quartierskarte" else None)
                        with recording(server.pid, output):
                            timing = measure(lambda p=path: http_worker(server.url, p),
                                             jobs[workload][warm:], clients=clients,
                                             warmup=jobs[workload][:warm])
                        record(system, workload, clients, timing,
                               features_of(workload, timing.results, system))
                        if workload == "items_bbox":
                            extra["features"][system] = rows[-1].features
                if server.process is not None and server.process.poll() is not None:
                    raise RuntimeError(f"{system} died:\n{server.tail()}")
        counts = set(extra["features"].values())
        if len(counts) > 1:
            raise RuntimeError(f"bbox pages differ in size between systems: {extra['features']}")

        imports: list[ImportTiming] = []
        if args.import_points:
            with tempfile.TemporaryDirectory(prefix="geo-service-import-") as folder:
                gpkg = write_geopackage(Path(folder) / "points.gpkg", args.import_points, kinds)
                step(f"wrote a {args.import_points:,}-point GeoPackage ({gpkg.stat().st_size / 1e6:.0f} MB)")
                url = db.cluster.url("import_bench")
                with psycopg.connect(db.cluster.url("postgres"), autocommit=True) as conn:
                    conn.execute('CREATE DATABASE "import_bench"')
                upgrade(url)
                for timing_fn in (time_ogr2ogr, time_cli_import):
                    result = timing_fn(url, gpkg)
                    if result is None:
                        skipped["ogr2ogr"] = "not on PATH (scripts/setup --browser installs gdal-bin)"
                        continue
                    imports.append(result)
                    step(f"{result.tool}: {result.features:,} features in {result.seconds:.1f} s "
                         f"({result.per_second:,.0f}/s)")
    return rows, imports, extra


def targets(rows: list[Row], imports: list[ImportTiming], extra: dict[str, Any]) -> list[str]:
    """Issue 6's targets, each with the measured figure and met / not met."""
    by = {(r.system, r.workload, r.clients): r for r in rows}
    found = []

    def check(text: str, ok: bool | None, figure: str) -> None:
        found.append(f"[{'met' if ok else 'NOT met' if ok is not None else 'not measured'}] {text}: {figure}")

    for clients in CLIENTS:
        qk = by.get(("quartierskarte", "items_bbox", clients))
        for peer in ("tipg", "pygeoapi"):
            other = by.get((peer, "items_bbox", clients))
            check(f"bbox items >= 5x {peer} req/s at {clients} client(s)",
                  qk.rps >= 5 * other.rps if qk and other else None,
                  f"{qk.rps / other.rps:.1f}x" if qk and other else "-")
    qk, floor = by.get(("quartierskarte", "items_bbox", 1)), by.get(("sql", "items_bbox", 1))
    check("bbox items p50 within 1.3x bare SQL at 1 client",
          qk.p50_ms <= 1.3 * floor.p50_ms if qk and floor else None,
          f"{qk.p50_ms:.2f} ms vs {floor.p50_ms:.2f} ms ({qk.p50_ms / floor.p50_ms:.2f}x)" if qk and floor else "-")
    near = by.get(("quartierskarte", "nearby", 1))
    check("near me p50 < 3 ms over HTTP", near.p50_ms < 3 if near else None,
          f"{near.p50_ms:.2f} ms" if near else "-")
    for clients in CLIENTS:
        qk, other = by.get(("quartierskarte", "tile", clients)), by.get(("tipg", "tile", clients))
        check(f"tiles >= 1.2x tipg req/s at {clients} client(s)",
              qk.rps >= 1.2 * other.rps if qk and other else None,
              f"{qk.rps / other.rps:.2f}x" if qk and other else "-")
    biggest = extra["tile_max_bytes"].get("quartierskarte")
    check("no tile over 500 KB", biggest <= 500_000 if biggest is not None else None,
          f"largest {biggest / 1000:.0f} KB" if biggest is not None else "-")
    ours = next((i for i in imports if i.tool.startswith("geo-service")), None)
    ogr = next((i for i in imports if i.tool.startswith("ogr2ogr")), None)
    check("import >= half of ogr2ogr's features/s",
          ours.per_second >= 0.5 * ogr.per_second if ours and ogr else None,
          f"{ours.per_second:,.0f}/s vs {ogr.per_second:,.0f}/s ({ours.per_second / ogr.per_second:.2f}x)"
          if ours and ogr else "-")
    return found


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    began = time.perf_counter()
    step(f"comparison: {args.points:,} points and {args.quartiers:,} quartiers over lon "
         f"{LOWER_SAXONY[0]}–{LOWER_SAXONY[2]}, lat {LOWER_SAXONY[1]}–{LOWER_SAXONY[3]}; "
         f"{args.requests} requests per workload at {' and '.join(map(str, CLIENTS))} clients"
         + (" (smoke)" if args.smoke else ""))
    try:
        rows, imports, extra = run(args)
    except Exception as exc:
        print(f"\nBENCHMARK FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise
    print("\n" + format_comparison(rows))
    for timing in imports:
        print(f"import: {timing.tool:<28} {timing.features:>10,} features {timing.seconds:8.1f} s "
              f"{timing.per_second:>10,.0f}/s")
    for name, why in extra["skipped"].items():
        print(f"skipped: {name}: {why}")
    print("\ntargets (issue 6):")
    for line in targets(rows, imports, extra):
        print("  " + line)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    doc = [{k: v for k, v in asdict(r).items() if k in ("system", "workload", "clients", "rps",
                                                         "p50_ms", "p95_ms")} for r in rows]
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(args.output)
    details = args.output.with_name(args.output.stem + "-details.json")
    details.write_text(json.dumps({
        "date": dt.date.today().isoformat(), "points": args.points, "quartiers": args.quartiers,
        "requests": args.requests, "rows": [asdict(r) for r in rows],
        "imports": [{**asdict(i), "per_second": round(i.per_second)} for i in imports],
        "tile_max_bytes": extra["tile_max_bytes"], "skipped": extra["skipped"],
        "targets": targets(rows, imports, extra),
    }, indent=2) + "\n")
    step(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output} "
         f"({time.perf_counter() - began:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
