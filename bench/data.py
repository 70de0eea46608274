"""Reproducible benchmark data, loaded with COPY: points spread over Lower Saxony."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import psycopg

#: Where generated features lie (lon/lat): Lower Saxony without the margins of the service area.
LOWER_SAXONY = (6.7, 51.3, 11.6, 53.8)
SEED = 20261121
TOWNS = ("Hannover", "Braunschweig", "Oldenburg", "Osnabrück", "Wolfsburg", "Göttingen",
         "Salzgitter", "Hildesheim", "Delmenhorst", "Wilhelmshaven", "Lüneburg", "Celle")
WHEELCHAIR = ("yes", "limited", "no", r"\N")
LANGUAGES = ("{de}", "{de,en}", "{de,uk}", "{de,ar,tr}", r"\N")

_POINT_EWKB = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])


@dataclass(frozen=True)
class LoadReport:
    table: str
    rows: int
    seconds: float


def random_points(n: int, *, seed: int = SEED,
                  area: tuple[float, float, float, float] = LOWER_SAXONY) -> np.ndarray:
    """``n`` lon/lat pairs spread uniformly over ``area``, the same for the same seed."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = area
    return np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])


def points_ewkb_hex(points: np.ndarray) -> list[str]:
    """Points as hex EWKB with SRID 4326 (PostGIS parses it faster than WKT)."""
    records = np.empty(len(points), dtype=_POINT_EWKB)
    records["order"] = 1  # little-endian
    records["type"] = 0x20000001  # point with SRID
    records["srid"] = 4326
    records["x"], records["y"] = points[:, 0], points[:, 1]
    text = records.tobytes().hex()
    width = 2 * _POINT_EWKB.itemsize
    return [text[i : i + width] for i in range(0, len(text), width)]


def meeting_place_lines(n: int, kinds: list[str], *, seed: int = SEED,
                        batch: int = 50_000) -> Iterator[str]:
    """COPY text for ``n`` meeting places, in batches of lines.

    Columns: name, kind, town, postcode, wheelchair, languages, geom. Properties cycle through
    fixed lists so responses carry realistic, non-null values.
    """
    points = random_points(n, seed=seed)
    for start in range(0, n, batch):
        geoms = points_ewkb_hex(points[start : start + batch])
        lines = []
        for offset, geom in enumerate(geoms):
            i = start + offset
            lines.append(
                f"Treffpunkt {i + 1}\t{kinds[i % len(kinds)]}\t{TOWNS[i % len(TOWNS)]}\t"
                f"{30000 + i % 9000}\t{WHEELCHAIR[i % len(WHEELCHAIR)]}\t"
                f"{LANGUAGES[i % len(LANGUAGES)]}\t{geom}\n"
            )
        yield "".join(lines)


@contextmanager
def bulk_load(conn: psycopg.Connection, table: str, *, triggers: tuple[str, ...] = ()) -> Iterator[None]:
    """Load ``table`` fast, inside the caller's transaction.

    Secondary indexes are dropped and rebuilt afterwards from their own definitions (so the
    migration stays the only source of them), and the named row triggers are disabled for the
    load. The caller's rollback restores everything if the load fails.
    """
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "JOIN pg_class c ON c.relname = i.indexname "
        "JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.schemaname = 'public' AND i.tablename = %s AND NOT x.indisprimary",
        (table,),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for trigger in triggers:
        conn.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"')
    yield
    conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for _, definition in indexes:
        conn.execute(definition)
    for trigger in triggers:
        conn.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER "{trigger}"')


def load_meeting_places(url: str, n: int, kinds: list[str], *, seed: int = SEED) -> LoadReport:
    """Fill the empty ``meeting_places`` table with ``n`` generated points, then VACUUM ANALYZE.

    The quartier trigger is off during the load: with no quartiers every place would get NULL
    anyway. A harness that also loads quartiers should derive them afterwards in one UPDATE.
    """
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET LOCAL synchronous_commit = off")
        with bulk_load(conn, "meeting_places", triggers=("meeting_places_quartier",)):
            with conn.cursor().copy(
                "COPY meeting_places (name, kind, town, postcode, wheelchair, languages, geom) "
                "FROM STDIN"
            ) as copy:
                for chunk in meeting_place_lines(n, kinds, seed=seed):
                    copy.write(chunk)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE meeting_places")
        rows = conn.execute("SELECT count(*) FROM meeting_places").fetchone()[0]  # type: ignore[index]
    return LoadReport("meeting_places", int(rows), time.perf_counter() - started)
