"""The peers in the comparison, tipg and pygeoapi: each from PyPI in its own venv, on loopback.

The venvs live outside the repository (``~/.cache/quartierskarte-bench/<name>``, or
``$QUARTIERSKARTE_BENCH_CACHE``) and are made once; versions are pinned so runs compare alike.
Each peer serves the benchmark's own tables with the same page size limit, the same properties
and one worker, without an access log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.cluster import free_port

CACHE = Path(os.environ.get("QUARTIERSKARTE_BENCH_CACHE",
                            Path.home() / ".cache" / "quartierskarte-bench"))


@dataclass(frozen=True)
class PeerSpec:
    name: str
    packages: tuple[str, ...]

    @property
    def venv(self) -> Path:
        return CACHE / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def stamp(self) -> Path:
        return self.venv / ".bench-installed"

    def installed(self) -> bool:
        return self.stamp.exists() and self.stamp.read_text() == " ".join(self.packages)

    def install(self) -> None:
        """Make the venv and install the pinned packages from PyPI (about a minute each)."""
        if self.installed():
            return
        CACHE.mkdir(parents=True, exist_ok=True)
        if not self.python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        subprocess.run([str(self.python), "-m", "pip", "install", "-q", *self.packages],
                       check=True, stdout=subprocess.DEVNULL)
        self.stamp.write_text(" ".join(self.packages))


TIPG = PeerSpec("tipg", ("tipg==1.6.1", "uvicorn"))
PYGEOAPI = PeerSpec("pygeoapi", ("pygeoapi==0.21.0", "psycopg2-binary", "SQLAlchemy", "GeoAlchemy2",
                                 "starlette", "uvicorn"))


class Peer:
    """A peer's uvicorn (one worker) in its own process, started in a folder of its own."""

    name = "peer"
    ready_path = "/collections"

    def __init__(self, spec: PeerSpec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder / spec.name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.folder / "service.log"
        self.process: subprocess.Popen[bytes] | None = None

    def app(self) -> str:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Peer:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GEO_SERVICE_", "TIPG_", "PYGEOAPI_", "DATABASE_URL"))}
        env.update(self.env())
        with self.log.open("ab") as out:
            # cwd: the peer's own folder, so no .env of ours (or anyone's) is read.
            self.process = subprocess.Popen(
                [str(self.spec.python), "-m", "uvicorn", self.app(), "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1", "--log-level", "warning",
                 "--no-access-log"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder,
            )
        deadline = time.monotonic() + 90
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    if client.get(self.ready_path).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"{self.name} did not start within 90 s:\n{self.tail()}")
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Tipg(Peer):
    """tipg: the benchmark tables only, same page limit, same properties, same tile cap."""

    name = "tipg"

    def __init__(self, folder: Path, database_url: str, *, properties: list[str],
                 max_limit: int, tile_max_features: int, tile_buffer: int) -> None:
        super().__init__(TIPG, folder)
        self.database_url = database_url
        self.properties = properties
        self.max_limit = max_limit
        self.tile_max_features = tile_max_features
        self.tile_buffer = tile_buffer

    def app(self) -> str:
        return "tipg.main:app"

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "TIPG_DB_SCHEMAS": '["public"]',
            "TIPG_DB_TABLES": '["public.meeting_places", "public.quartiers"]',
            "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public", "pg_catalog"]',
            "TIPG_MAX_FEATURES_PER_QUERY": str(self.max_limit),
            "TIPG_MAX_FEATURES_PER_TILE": str(self.tile_max_features),
            "TIPG_TILE_BUFFER": str(self.tile_buffer),
            "TIPG_TABLE_CONFIG__public_meeting_places__pk": "id",
            "TIPG_TABLE_CONFIG__public_meeting_places__geomcol": "geom",
            "TIPG_TABLE_CONFIG__public_meeting_places__properties": json.dumps(self.properties),
            "TIPG_SORT_COLUMNS": "false",
            "TIPG_ADD_TILES_VIEWER": "false",
        }


_PYGEOAPI_CONFIG = """\
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  gzip: false
  languages: [en-US]
  pretty_print: false
  limits: {{default_items: 10, max_items: {max_limit}}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OSM}}
logging:
  level: ERROR
metadata:
  identification:
    title: Benchmark peer
    description: pygeoapi serving the benchmark tables
    keywords: [benchmark]
    keywords_type: theme
    terms_of_service: https://creativecommons.org/licenses/by/4.0/
    url: http://127.0.0.1
  license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
  provider: {{name: bench, url: 'http://127.0.0.1'}}
  contact: {{name: bench, position: bench, address: x, city: x, stateorprovince: x, postalcode: x,
            country: x, phone: x, fax: x, email: x, url: x, hours: x, instructions: x, role: pointOfContact}}
resources:
  meeting_places:
    type: collection
    title: Meeting places
    description: Generated meeting places
    keywords: [benchmark]
    extents:
      spatial: {{bbox: [6.6, 51.29, 11.65, 53.9], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: {host}, port: {db_port}, dbname: {dbname}, user: {user}, password: '{password}',
               search_path: [public]}}
        id_field: id
        table: meeting_places
        geom_field: geom
        properties: {properties}
"""


class Pygeoapi(Peer):
    """pygeoapi (Starlette app): its PostgreSQL feature provider over ``meeting_places``."""

    name = "pygeoapi"

    def __init__(self, folder: Path, database_url: str, *, properties: list[str],
                 max_limit: int) -> None:
        super().__init__(PYGEOAPI, folder)
        parts = urlsplit(database_url)
        config = _PYGEOAPI_CONFIG.format(
            port=self.port, max_limit=max_limit, host=parts.hostname, db_port=parts.port,
            dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password,
            properties=json.dumps(properties))
        self.config = self.folder / "config.yml"
        self.config.write_text(config)
        self.openapi = self.folder / "openapi.yml"

    def app(self) -> str:
        return "pygeoapi.starlette_app:APP"

    def env(self) -> dict[str, str]:
        return {"PYGEOAPI_CONFIG": str(self.config), "PYGEOAPI_OPENAPI": str(self.openapi)}

    def __enter__(self) -> Peer:
        env = {**os.environ, **self.env()}
        subprocess.run([str(self.spec.venv / "bin" / "pygeoapi"), "openapi", "generate",
                        str(self.config), "--output-file", str(self.openapi)],
                       check=True, env=env, cwd=self.folder, capture_output=True)
        return super().__enter__()
