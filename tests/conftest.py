"""Shared fixtures: a real PostGIS cluster (started by the project's own code) and live servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from geo_service.settings import Settings
from tests.utils.db import TestCluster
from tests.utils.server import LiveServer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TestCluster]:
    cluster = TestCluster()
    try:
        cluster.migrate_template()
        from geo_service.demo import load_demo
        from geo_service.layers import Registry

        load_demo(cluster.url, Registry.from_dir(ROOT / "layers"),
                  settings=Settings(_env_file=None, database_url=cluster.url))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db_url(pg_cluster: TestCluster) -> Iterator[str]:
    """A private database with the schema and the demo data, dropped afterwards."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


#: The suite's own rate-limit budget: its clients (schemathesis, paging loops) must not be
#: throttled; tests of the limiter name a small budget themselves.
TEST_BUDGET = {"rate_limit_reads": 1_000_000, "rate_limit_writes": 1_000_000}


def make_settings(db_url: str, **overrides: object) -> Settings:
    """The shipped settings, except the database, the rate-limit budget and what a test names."""
    values = {**TEST_BUDGET, **overrides}
    return Settings(_env_file=None, database_url=db_url, layers_dir=ROOT / "layers",
                    data_dir=ROOT / ".data", **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    """The real service over HTTP on a free loopback port."""
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def module_db_url(pg_cluster: TestCluster) -> Iterator[str]:
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(scope="module")
def module_server(module_db_url: str) -> Iterator[LiveServer]:
    """One server for a module's read-only tests."""
    with LiveServer(make_settings(module_db_url)) as live:
        yield live


os.environ.setdefault("GEO_SERVICE_TESTING", "1")
