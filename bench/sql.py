"""The service's own SQL for a request, captured from its query functions, run bare with psycopg.

The floor must be the statement the service sends, not a hand-written look-alike that drifts
from it; so the query functions are called with a connection that only records what they send.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import psycopg

from geo_service.layers import Layer
from geo_service.queries.items import (
    ItemsQuery,
    count_features,
    fetch_feature,
    fetch_features,
    fetch_items_page,
)
from geo_service.queries.paging import CountRule
from geo_service.queries.tiles import fetch_tile, tile_bounds
from geo_service.queries.nearby import NearbyQuery, find_nearby

_PLACEHOLDER = re.compile(r"(?<![:\w]):(p\d+)\b")


@dataclass(frozen=True)
class Statement:
    """One SQL statement with psycopg placeholders (``%(p0)s``) and its values."""

    sql: str
    params: dict[str, Any]

    def run(self, conn: psycopg.Connection) -> list[tuple[Any, ...]]:
        return conn.execute(self.sql, self.params).fetchall()  # type: ignore[arg-type]


class _Nothing:
    """The answer to every recorded statement: empty."""

    def scalar_one(self) -> Any:
        return 0

    def scalar_one_or_none(self) -> None:
        return None

    def all(self) -> list[Any]:
        return []

    def one(self) -> tuple[Any, ...]:
        # A page statement's columns: features, rows fetched, last key, count (-1: not needed).
        return ("[]", 0, None, -1)

    def one_or_none(self) -> None:
        return None


class _Recorder:
    """Stands in for an ``AsyncConnection``; keeps each statement instead of running it."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    async def execute(self, clause: Any, params: dict[str, Any] | None = None) -> _Nothing:
        sql = _PLACEHOLDER.sub(r"%(\1)s", str(clause).replace("%", "%%"))
        self.statements.append(Statement(sql, dict(params or {})))
        return _Nothing()


def _capture(call: Any) -> Statement:
    recorder = _Recorder()
    asyncio.run(call(recorder))
    assert len(recorder.statements) == 1, recorder.statements
    return recorder.statements[0]


def items_features(layer: Layer, bbox: tuple[float, float, float, float], *, limit: int,
                   precision: int) -> Statement:
    """The page of features as one JSON array (``json_agg``), as ``/items?bbox&limit`` runs it."""
    query = ItemsQuery(bbox=bbox, limit=limit)
    return _capture(lambda conn: fetch_features(conn, layer, query, precision=precision))


def items_count(layer: Layer, bbox: tuple[float, float, float, float]) -> Statement:
    """``numberMatched`` of the same request."""
    query = ItemsQuery(bbox=bbox)
    return _capture(lambda conn: count_features(conn, layer, query))


def items_page(layer: Layer, bbox: tuple[float, float, float, float], *, limit: int,
               precision: int, rule: CountRule) -> Statement:
    """The one statement ``/items?bbox&limit`` runs now: page, has-more row, cursor and count."""
    query = ItemsQuery(bbox=bbox, limit=limit)
    return _capture(lambda conn: fetch_items_page(conn, layer, query, precision=precision, rule=rule))


def item(layer: Layer, feature_id: int, *, precision: int) -> Statement:
    """The statement of ``/items/{id}``."""
    return _capture(lambda conn: fetch_feature(conn, layer, feature_id, ItemsQuery(),
                                               precision=precision))


def tile(layer: Layer, z: int, x: int, y: int, *, max_features: int) -> Statement:
    """The statement of ``/tiles/WebMercatorQuad/{z}/{x}/{y}`` (ST_AsMVT)."""
    bounds = tile_bounds(layer, z, x, y)
    return _capture(lambda conn: fetch_tile(conn, layer, bounds, max_features=max_features))


def nearby(layer: Layer, lon: float, lat: float, *, limit: int, precision: int) -> Statement:
    """The KNN statement of ``/nearby?lon&lat&layers=<layer>&limit``."""
    query = NearbyQuery(lon=lon, lat=lat, limit=limit, layers=[layer.id])
    return _capture(lambda conn: find_nearby(conn, [layer], query, precision=precision))


def explain(conn: psycopg.Connection, statement: Statement) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of a statement, values inlined (the plan a one-off gets)."""
    cursor = psycopg.ClientCursor(conn)
    rows = cursor.execute(
        "EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params  # type: ignore[arg-type]
    ).fetchall()
    return "\n".join(row[0] for row in rows)


class PlanError(AssertionError):
    """A plan does not use the index it must use."""


def require_index(plan: str, index: str, what: str) -> None:
    """Fail unless ``plan`` scans ``index`` (an index, bitmap or index-only scan)."""
    scans = ("Index Scan using", "Index Only Scan using", "Bitmap Index Scan on")
    if not any(f"{scan} {index}" in plan for scan in scans):
        raise PlanError(f"{what}: the plan does not use {index}:\n{plan}")
