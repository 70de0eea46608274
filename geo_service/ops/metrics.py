"""Prometheus metrics: requests per route template and layer, database pools, reads, imports.

Labels are bounded on purpose: the route's path template (``/collections/{layer}/items``), never
the raw URL; the layer only when it is a registered one.

Workers are separate processes: prometheus-client keeps each process's values in files when the
environment variable ``PROMETHEUS_MULTIPROC_DIR`` names an empty folder before the workers start
(``geo-service serve`` sets it up); the internal listener (``ops.internal``), which runs in the
supervising process, sums them at each scrape.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "geo_service_http_requests_total", "HTTP requests answered.",
    ["method", "route", "layer", "status"],
)
LATENCY = Histogram(
    "geo_service_http_request_duration_seconds", "Time from request to the last byte sent.",
    ["method", "route", "layer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_PROGRESS = Gauge(
    "geo_service_http_requests_in_progress", "Requests being handled.",
    multiprocess_mode="livesum",
)
POOL = Gauge(
    "geo_service_db_pool_connections",
    "Connections of the database pool: checked out (in use), idle in the pool, or overflow.",
    ["engine", "state"], multiprocess_mode="livesum",
)
READS = Counter(
    "geo_service_db_reads_total", "Read connections handed out, by where they went.",
    ["target"],
)
REPLICA_LAG = Gauge(
    "geo_service_db_replica_lag_seconds",
    "Replication lag the last check measured (-1: replica unreachable).",
    multiprocess_mode="livemax",
)
IMPORTS = Counter(
    "geo_service_imports_total", "Imports over HTTP, by layer and outcome.", ["layer", "result"],
)
IMPORTED_FEATURES = Counter(
    "geo_service_imported_features_total", "Features stored by imports.", ["layer"],
)

REPORTS_PAUSED = Counter(
    "geo_service_reports_breaker_refusals_total",
    "'Fehler melden' reports refused because the hour's breaker over all networks is open "
    "(alert on any increase).",
)


def record_import(layer: str, *, ok: bool, features: int = 0) -> None:
    """Count one import (call from an import endpoint once its outcome is known)."""
    IMPORTS.labels(layer=layer, result="ok" if ok else "rejected").inc()
    if ok and features:
        IMPORTED_FEATURES.labels(layer=layer).inc(features)


def observe_pool(name: str, engine: AsyncEngine) -> None:
    """Copy a pool's current use into the gauges (cheap: reads a few counters)."""
    pool = engine.sync_engine.pool
    checkedout = getattr(pool, "checkedout", None)
    if checkedout is None:  # NullPool and friends keep no numbers
        return
    POOL.labels(engine=name, state="checked_out").set(pool.checkedout())  # type: ignore[attr-defined]
    POOL.labels(engine=name, state="idle").set(pool.checkedin())  # type: ignore[attr-defined]
    POOL.labels(engine=name, state="overflow").set(max(0, pool.overflow()))  # type: ignore[attr-defined]


def exposition() -> tuple[bytes, str]:
    """The text format for a scrape, summed over all workers in multiprocess mode."""
    return generate_latest(scrape_registry()), CONTENT_TYPE_LATEST


def scrape_registry() -> CollectorRegistry:
    """What a scrape reads: in multiprocess mode the workers' files (the process that serves the
    scrape need not be a worker), else this process's own metrics."""
    folder = os.environ.get(MULTIPROCESS_ENV)
    if not folder:
        return REGISTRY
    registry = CollectorRegistry()
    registry.register(_WorkersCollector(folder))
    return registry


class _WorkersCollector:
    """The workers' metric files, without the "live" gauges of workers that have died.

    A worker killed by a signal cannot clean up after itself; left alone, its last "requests in
    progress" and pool gauges would be added to the living workers' for ever.
    """

    def __init__(self, folder: str) -> None:
        from prometheus_client import multiprocess

        self.folder = folder
        self.collector = multiprocess.MultiProcessCollector(None, path=folder)

    def collect(self):  # type: ignore[no-untyped-def]
        from pathlib import Path

        from prometheus_client import multiprocess

        for path in Path(self.folder).glob("gauge_live*_*.db"):
            pid = path.stem.rsplit("_", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                multiprocess.mark_process_dead(int(pid), self.folder)
        return self.collector.collect()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_multiprocess(folder: str) -> None:
    """Point prometheus-client at ``folder`` before the workers start.

    Must run before any worker imports prometheus_client; value files of an earlier run are
    removed, or their counts would be added to this run's.
    """
    from pathlib import Path

    path = Path(folder)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROCESS_ENV] = str(path)
