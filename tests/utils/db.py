"""Test databases: one private cluster per test session, a fresh clone of a template per test."""

from __future__ import annotations

import itertools
import os
import socket
import tempfile
from pathlib import Path

import psycopg

from geo_service.db.engine import upgrade
from geo_service.db.local import LocalCluster

_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestCluster:
    """The project's own embedded cluster, started in a temporary folder for the test session."""

    __test__ = False

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="geo-service-test-"))
        os.chmod(self.folder, 0o755)
        self.cluster = LocalCluster(self.folder, free_port())
        self.url = self.cluster.start()
        self.template = "quartierskarte"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.cluster.url("postgres"), autocommit=True)

    def create_database(self, template: str | None = None) -> str:
        """A new database cloned from ``template`` (default: migrated + demo data)."""
        name = f"test_{os.getpid()}_{next(_counter)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template or self.template}"')
        return self.cluster.url(name)

    def create_empty_database(self) -> str:
        """A database with PostGIS but no schema (for migration tests)."""
        name = f"empty_{os.getpid()}_{next(_counter)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = self.cluster.url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        return url

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def migrate_template(self) -> None:
        upgrade(self.url)

    def stop(self) -> None:
        self.cluster.stop()
