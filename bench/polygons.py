"""Reproducible quartier polygons over Lower Saxony, loaded with COPY (10,000 for the comparison)."""

from __future__ import annotations

import math
import time

import numpy as np
import psycopg

from bench.data import LOWER_SAXONY, SEED, LoadReport, bulk_load

DISTRICTS = ("Region Hannover", "Braunschweig", "Osnabrück", "Oldenburg", "Göttingen", "Lüneburg",
             "Celle", "Hildesheim", "Emsland", "Cuxhaven")


def quartier_lines(n: int, *, seed: int = SEED, vertices: int = 24) -> str:
    """COPY text for ``n`` quartiers: one irregular ring per cell of a square grid over the state.

    Columns: name, municipality, district, population, source, licence, geom (EWKT). Each ring has
    ``vertices`` points at a random radius of 35–48 % of the cell, so neighbours never overlap.
    """
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = LOWER_SAXONY
    side = math.ceil(math.sqrt(n))
    width, height = (x1 - x0) / side, (y1 - y0) / side
    angles = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    lines = []
    for i in range(n):
        cx, cy = x0 + (i % side + 0.5) * width, y0 + (i // side + 0.5) * height
        radius = rng.uniform(0.35, 0.48, vertices)
        xs, ys = cx + radius * width * np.cos(angles), cy + radius * height * np.sin(angles)
        ring = ", ".join(f"{x:.6f} {y:.6f}" for x, y in zip(xs, ys, strict=True))
        first = f"{xs[0]:.6f} {ys[0]:.6f}"
        lines.append(
            f"Quartier {i + 1}\tGemeinde {i // 25 + 1}\t{DISTRICTS[i % len(DISTRICTS)]}\t"
            f"{int(rng.integers(500, 20000))}\tGeneriert (Benchmark)\tCC0-1.0\t"
            f"SRID=4326;MULTIPOLYGON((({ring}, {first})))\n"
        )
    return "".join(lines)


def load_quartiers(url: str, n: int, *, seed: int = SEED) -> LoadReport:
    """Fill the empty ``quartiers`` table with ``n`` generated polygons (COPY), then ANALYZE.

    The row trigger that re-derives the meeting places under each new quartier is off for the
    load (load quartiers before the points; the points' loader leaves their quartier empty).
    """
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        with bulk_load(conn, "quartiers", triggers=("quartiers_changed",)):
            with conn.cursor().copy(
                "COPY quartiers (name, municipality, district, population, source, licence, geom) "
                "FROM STDIN"
            ) as copy:
                copy.write(quartier_lines(n, seed=seed))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE quartiers")
        rows = conn.execute("SELECT count(*) FROM quartiers").fetchone()[0]  # type: ignore[index]
    return LoadReport("quartiers", int(rows), time.perf_counter() - started)
