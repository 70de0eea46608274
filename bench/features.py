"""Features benchmark: bbox items and "near me" over HTTP and as bare SQL, with their plans.

Starts a private cluster, fills ``meeting_places`` with generated points (COPY), checks that
both queries use their spatial index (EXPLAIN ANALYZE), then times the bare SQL and the real
service. ``bench/run --help`` lists the options; bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import sql as bench_sql
from bench.cluster import BenchCluster
from bench.data import LOWER_SAXONY, load_meeting_places
from bench.measure import Row, Timing, format_table, measure, write_rows
from bench.profile import recording
from bench.service import ROOT, Service
from bench.workloads import bbox_size, random_bboxes, random_positions
from geo_service.layers import Layer, Registry
from geo_service.settings import Settings

RESULTS = ROOT / "bench" / "results"
LAYER = "meeting_places"
BBOX_INDEX = "meeting_places_geom_idx"
KNN_INDEX = "meeting_places_geog_idx"
PAGE = 1000  # features per bbox page, and the box size's target
NEAREST = 10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="10,000 points and 20 requests per workload, under a minute; "
                             "results go to bench/results/smoke.json")
    parser.add_argument("--points", type=int, default=None,
                        help="points to generate (default 1,000,000; smoke: 10,000)")
    parser.add_argument("--requests", type=int, default=None,
                        help="measured requests per workload (default 200; smoke: 20)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp folder with the (stopped) cluster and service log")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default bench/results/features-latest.json)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record py-spy profiles of the service per workload into DIR")
    parser.add_argument("--profile-format", choices=("svg", "txt", "json"), default="svg",
                        help="flame graph (svg), collapsed stacks (txt) or speedscope (json)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.points = min(args.points or 10_000, 10_000)
        args.requests = args.requests or 20
        args.output = args.output or RESULTS / "smoke.json"
    args.points = args.points or 1_000_000
    args.requests = args.requests or 200
    args.output = args.output or RESULTS / "features-latest.json"
    if args.points < PAGE:
        parser.error(f"--points must be at least {PAGE}")
    return args


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


# -- what is measured ------------------------------------------------------------------------

@contextmanager
def sql_worker(url: str, statement: Callable[[Any], bench_sql.Statement]
               ) -> Iterator[Callable[[Any], int]]:
    """One psycopg connection; a job runs the service's statement and counts the rows' bytes."""
    with psycopg.connect(url, autocommit=True) as conn:
        def run(job: Any) -> int:
            rows = statement(job).run(conn)
            return sum(len(str(v)) for row in rows for v in row)
        yield run


@contextmanager
def http_worker(base_url: str, path: Callable[[Any], str]) -> Iterator[Callable[[Any], bytes]]:
    """One keep-alive HTTP client (gzip accepted, as browsers do); a job returns the body."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        def run(job: Any) -> bytes:
            response = client.get(path(job))
            if response.status_code != 200:
                raise RuntimeError(f"GET {path(job)} -> {response.status_code}: {response.text[:300]}")
            return response.content
        yield run


def bbox_path(box: tuple[float, float, float, float]) -> str:
    return f"/collections/{LAYER}/items?bbox={','.join(map(str, box))}&limit={PAGE}"


def nearby_path(position: tuple[float, float]) -> str:
    lon, lat = position
    return f"/nearby?lon={lon}&lat={lat}&layers={LAYER}&limit={NEAREST}"


def returned(bodies: list[bytes]) -> int:
    """Mean number of features per response (checks that each is a FeatureCollection)."""
    counts = []
    for body in bodies:
        doc = json.loads(body)
        if doc.get("type") != "FeatureCollection":
            raise RuntimeError(f"not a FeatureCollection: {body[:200]!r}")
        counts.append(len(doc["features"]))
    return round(sum(counts) / len(counts))


# -- the run ---------------------------------------------------------------------------------

def check_plans(url: str, layer: Layer, box: tuple[float, float, float, float],
                position: tuple[float, float], precision: int) -> dict[str, str]:
    """EXPLAIN the three statements behind the two requests; fail unless each uses its index."""
    statements = {
        "items_bbox (features)": (bench_sql.items_features(layer, box, limit=PAGE, precision=precision),
                                  BBOX_INDEX),
        "items_bbox (numberMatched)": (bench_sql.items_count(layer, box), BBOX_INDEX),
        "nearby": (bench_sql.nearby(layer, *position, limit=NEAREST, precision=precision), KNN_INDEX),
    }
    plans = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, (statement, index) in statements.items():
            plan = bench_sql.explain(conn, statement)
            print(f"\n--- EXPLAIN (ANALYZE, BUFFERS) {name}\n{plan}\n", flush=True)
            bench_sql.require_index(plan, index, name)
            plans[name] = plan
    return plans


def run(args: argparse.Namespace) -> list[Row]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    precision = settings.coordinate_precision
    layer = Registry.from_dir(ROOT / "layers").get(LAYER)
    assert layer is not None
    kinds = next(p for p in layer.properties if p.name == "kind").enum
    assert kinds

    size = bbox_size(args.points, PAGE)
    warmup_n = max(3, args.requests // 10)
    boxes = random_bboxes(args.requests + warmup_n, size)
    positions = random_positions(args.requests + warmup_n)
    warm_boxes, boxes = boxes[:warmup_n], boxes[warmup_n:]
    warm_positions, positions = positions[:warmup_n], positions[warmup_n:]

    with BenchCluster(keep=args.keep) as db:
        step(f"private cluster in {db.folder} on port {db.cluster.port}, migrated")
        report = load_meeting_places(db.url, args.points, kinds)
        step(f"loaded {report.rows:,} points into {report.table} in {report.seconds:.1f} s "
             f"({report.rows / report.seconds:,.0f}/s, COPY, indexes rebuilt, VACUUM ANALYZE)")
        if report.rows != args.points:
            raise RuntimeError(f"expected {args.points} rows, found {report.rows}")
        step(f"bbox {size[0]:.4f}° x {size[1]:.4f}° for ~{PAGE} of {args.points:,} points")
        check_plans(db.url, layer, boxes[0], positions[0], precision)

        rows: list[Row] = []

        def record(system: str, workload: str, timing: Timing, features: int) -> None:
            row = Row.of(system, workload, 1, timing, features=features)
            rows.append(row)
            step(f"{system:<14} {workload:<10} p50 {row.p50_ms:7.2f} ms  p95 {row.p95_ms:7.2f} ms  "
                 f"{row.rps:7.1f} req/s  ({row.requests} requests, ~{features} features each)")

        items_sql = lambda box: bench_sql.items_features(layer, box, limit=PAGE, precision=precision)  # noqa: E731
        near_sql = lambda pos: bench_sql.nearby(layer, *pos, limit=NEAREST, precision=precision)  # noqa: E731
        timing = measure(lambda: sql_worker(db.url, items_sql), boxes, warmup=warm_boxes)
        with psycopg.connect(db.url, autocommit=True) as conn:
            sql_features = round(sum(len(json.loads(items_sql(b).run(conn)[0][0])) for b in boxes)
                                 / len(boxes))
        record("sql", "items_bbox", timing, sql_features)
        timing = measure(lambda: sql_worker(db.url, near_sql), positions, warmup=warm_positions)
        record("sql", "nearby", timing, NEAREST)

        with Service(db.url, db.folder) as service:
            step(f"service (uvicorn, 1 worker) on {service.url}, pid {service.pid}")
            def profile(workload: str) -> Path | None:
                return args.profile / f"{workload}.{args.profile_format}" if args.profile else None

            with recording(service.pid, profile("items_bbox")):
                timing = measure(lambda: http_worker(service.url, bbox_path), boxes, warmup=warm_boxes)
            http_features = returned(timing.results)
            if http_features != sql_features:
                raise RuntimeError(f"HTTP pages hold {http_features} features, SQL {sql_features}")
            record("quartierskarte", "items_bbox", timing, http_features)
            with recording(service.pid, profile("nearby")):
                timing = measure(lambda: http_worker(service.url, nearby_path), positions,
                                 warmup=warm_positions)
            record("quartierskarte", "nearby", timing, returned(timing.results))
            if service.process is not None and service.process.poll() is not None:
                raise RuntimeError(f"the service died:\n{service.tail()}")
    return rows


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    began = time.perf_counter()
    step(f"features benchmark: {args.points:,} points over lon {LOWER_SAXONY[0]}–{LOWER_SAXONY[2]}, "
         f"lat {LOWER_SAXONY[1]}–{LOWER_SAXONY[3]}; {args.requests} requests per workload, 1 client"
         + (" (smoke)" if args.smoke else ""))
    try:
        rows = run(args)
    except Exception as exc:  # one clear line, then the traceback, and a failing exit code
        print(f"\nBENCHMARK FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise
    print("\n" + format_table(rows))
    write_rows(args.output, rows)
    step(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output} "
         f"({dt.date.today().isoformat()}, {time.perf_counter() - began:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
