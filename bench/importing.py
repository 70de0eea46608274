"""Import speed: the CLI import of an N-point GeoPackage against ogr2ogr's PostgreSQL driver.

Both write the same file into the same (empty, migrated) database: the CLI into the
``meeting_places`` layer, with its full validation, all or nothing, triggers and history;
ogr2ogr into a new table of its own (COPY, spatial index), as GDAL does by default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import psycopg
import shapely

from bench.data import TOWNS, random_points

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ImportTiming:
    tool: str
    features: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.features / self.seconds


def write_geopackage(path: Path, n: int, kinds: list[str]) -> Path:
    """``n`` meeting places (name, kind, town, postcode) as points in a GeoPackage, fixed seed."""
    points = random_points(n, seed=4242)
    frame = gpd.GeoDataFrame(
        {"name": [f"Importtreff {i + 1}" for i in range(n)],
         "kind": [kinds[i % len(kinds)] for i in range(n)],
         "town": [TOWNS[i % len(TOWNS)] for i in range(n)],
         "postcode": [str(30000 + i % 9000) for i in range(n)]},
        geometry=shapely.points(points), crs="EPSG:4326",
    )
    frame.to_file(path, driver="GPKG", layer="meeting_places", engine="pyogrio")
    return path


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]


def time_cli_import(url: str, path: Path) -> ImportTiming:
    """``geo-service import meeting_places <file>`` as a user runs it (its own process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env.update({"GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers"),
                "GEO_SERVICE_MAX_UPLOAD_MB": "2000", "GEO_SERVICE_IMPORT_MAX_FEATURES": "10000000"})
    cli = ROOT / ".venv" / "bin" / "geo-service"
    began = time.perf_counter()
    result = subprocess.run([str(cli), "import", "meeting_places", str(path)], env=env, cwd=ROOT,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"geo-service import failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return ImportTiming("geo-service import", _count(url, "meeting_places"), seconds)


def time_ogr2ogr(url: str, path: Path) -> ImportTiming | None:
    """``ogr2ogr -f PostgreSQL`` (Debian's gdal-bin) of the same file; None without ogr2ogr."""
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        return None
    parts = urlsplit(url)
    pg = (f"PG:host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} "
          f"user={parts.username} password={parts.password}")
    began = time.perf_counter()
    subprocess.run([ogr2ogr, "-f", "PostgreSQL", pg, str(path), "meeting_places",
                    "-nln", "ogr_meeting_places", "-lco", "GEOMETRY_NAME=geom"],
                   check=True, capture_output=True)
    seconds = time.perf_counter() - began
    return ImportTiming("ogr2ogr (PostgreSQL driver)", _count(url, "ogr_meeting_places"), seconds)
