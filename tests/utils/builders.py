"""Small data builders: rows inserted with plain SQL into a test database."""

from __future__ import annotations

from typing import Any

import psycopg


def add_meeting_place(url: str, *, name: str, lon: float, lat: float, kind: str = "Nachbarschaftstreff",
                      **columns: Any) -> int:
    values = {"name": name, "kind": kind, **columns}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"INSERT INTO meeting_places ({names}, geom) VALUES ({marks}, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id",
            [*values.values(), lon, lat],
        ).fetchone()
        assert row is not None
        return int(row[0])


def add_offer(url: str, *, title: str, category: str, meeting_place_id: int, **columns: Any) -> int:
    values = {"title": title, "category": category, "meeting_place_id": meeting_place_id, **columns}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"INSERT INTO offers ({names}) VALUES ({marks}) RETURNING id", list(values.values())
        ).fetchone()
        assert row is not None
        return int(row[0])


def add_custom_points(url: str, layer: str, points: list[tuple[float, float, dict[str, Any]]]) -> None:
    import json

    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO features (layer, properties, geom) "
                "VALUES (%s, %s::jsonb, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
                [(layer, json.dumps(props), lon, lat) for lon, lat, props in points],
            )


def count(url: str, sql: str, *params: Any) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        assert row is not None
        return int(row[0])
