""""Fehler melden": storing reports for the layer's editors, rate-limited through the database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.errors import FeatureNotFound, Overloaded, RateLimited
from geo_service.layers import Layer
from geo_service.queries.sql import Params, layer_scope, table_of, value_expr, where_clause


class ReportsPaused(Overloaded):
    """The reports circuit breaker is open."""


#: The counter of every report this hour, across all networks: the circuit breaker's.
ALL_CLIENTS = "*"


def network_bucket(network: str | None, kind: str) -> str:
    """A counter's name for a client network or block: a hash, never the address."""
    digest = hashlib.sha256(f"quartierskarte-report:{network or 'unknown'}".encode()).hexdigest()
    return f"{kind}:{digest[:32]}"


async def _count(conn: AsyncConnection, bucket: str) -> int:
    row = await conn.execute(text(
        "INSERT INTO report_counters (bucket, window_start, hits) "
        "VALUES (:bucket, date_trunc('hour', now()), 1) "
        "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = report_counters.hits + 1 "
        "RETURNING hits"), {"bucket": bucket})
    return int(row.scalar_one())


async def _seconds_to_next_hour(conn: AsyncConnection) -> int:
    row = await conn.execute(text(
        "SELECT ceil(extract(epoch FROM date_trunc('hour', now()) + interval '1 hour' - now()))"))
    return max(1, int(row.scalar_one()))


@dataclass(frozen=True)
class ReportBudget:
    """Reports per hour: per client network, per wider block, and over all clients (the
    circuit breaker: only a flood from very many networks reaches it)."""

    per_network: int
    per_block: int
    breaker: int


async def store_report(conn: AsyncConnection, layer: Layer, *, feature_id: int, message: str,
                       contact: str | None, language: str | None, network: str | None,
                       block: str | None, budget: ReportBudget) -> int:
    """Count the attempt, check the feature exists, store the report; returns its id.

    The counters are rows in PostgreSQL (every replica counts the same) and are counted in the
    caller's transaction: a refused or failed attempt is rolled back with everything else and
    uses up nothing. A network over its budget never reaches the next counter, so many
    attempts from one network cannot move the breaker.

    Raises
    ------
    RateLimited
        The client's network (IPv4 /24, IPv6 /48) or its block (/16, /32) used up this hour's
        budget.
    ReportsPaused
        All clients together passed the breaker's limit this hour: reports are refused from
        everyone until the hour ends (the caller raises the alert).
    FeatureNotFound
        There is no such feature in the layer.
    """
    await conn.execute(text("DELETE FROM report_counters WHERE window_start < now() - interval '1 day'"))
    for bucket, limit in ((network_bucket(network, "net"), budget.per_network),
                          (network_bucket(block, "block"), budget.per_block)):
        if await _count(conn, bucket) > limit:
            raise RateLimited("Too many reports from your network in this hour; please try "
                              "again later.", await _seconds_to_next_hour(conn))
    if await _count(conn, ALL_CLIENTS) > budget.breaker:
        raise ReportsPaused("So many reports arrived in this hour that reporting is paused "
                            "for everyone until the hour ends; please try again later.",
                            await _seconds_to_next_hour(conn))
    params = Params()
    conditions = [f"t.id = {params.add(feature_id)}"]
    scope = layer_scope(layer, params)
    if scope:
        conditions.append(scope)
    found = await conn.execute(
        text(f"SELECT 1 FROM {table_of(layer)} t {where_clause(conditions)}"), params.values)
    if found.first() is None:
        raise FeatureNotFound(f"There is no feature {layer.id}.{feature_id}.")
    row = await conn.execute(text(
        "INSERT INTO reports (layer, feature_id, message, contact, language) "
        "VALUES (:layer, :feature_id, :message, :contact, :language) RETURNING id"),
        {"layer": layer.id, "feature_id": feature_id, "message": message,
         "contact": contact, "language": language})
    return int(row.scalar_one())


# -- the editors' inbox ---------------------------------------------------------------------------
REPORT_STATUSES = ("new", "done", "rejected")


def _scope_sql(layer: Layer, params: Params, *, districts: tuple[str, ...],
               organisation: str | None) -> str:
    """Reports on features a narrowed key may edit: in its districts, of its organisation."""
    conditions = ["t.id = r.feature_id"]
    scope = layer_scope(layer, params)
    if scope:
        conditions.append(scope)
    if districts:
        conditions.append(
            "EXISTS (SELECT 1 FROM quartiers q WHERE q.district = ANY("
            f"{params.add(list(districts), 'text[]')}) AND ST_Intersects(q.geom, t.geom))")
    if organisation is not None:
        owner = layer.property(layer.owner_property) if layer.owner_property else None
        if owner is None:
            return "FALSE"
        conditions.append(f"{value_expr(layer, owner)} = {params.add(organisation)}")
    return f"EXISTS (SELECT 1 FROM {table_of(layer)} t {where_clause(conditions)})"


async def list_reports(conn: AsyncConnection, layers: list[Layer], *, status: str | None,
                       districts: tuple[str, ...] = (), organisation: str | None = None,
                       report_id: int | None = None, limit: int = 200) -> list[dict[str, object]]:
    """Reports on these layers, newest first; a narrowed key sees only its features' reports."""
    if not layers:
        return []
    params = Params()
    narrowed = bool(districts or organisation)
    per_layer = []
    for layer in layers:
        condition = f"r.layer = {params.add(layer.id)}"
        if narrowed:
            condition += " AND " + _scope_sql(layer, params, districts=districts,
                                              organisation=organisation)
        per_layer.append(f"({condition})")
    conditions = ["(" + " OR ".join(per_layer) + ")"]
    if status is not None:
        conditions.append(f"r.status = {params.add(status)}")
    if report_id is not None:
        conditions.append(f"r.id = {params.add(report_id)}")
    rows = await conn.execute(text(
        "SELECT r.id, r.layer, r.feature_id, r.message, r.contact, r.language, r.status, "
        f"r.created_at FROM reports r {where_clause(conditions)} "
        f"ORDER BY r.created_at DESC, r.id DESC LIMIT {params.add(limit)}"), params.values)
    return [{"id": row.id, "layer": row.layer, "feature_id": row.feature_id,
             "message": row.message, "contact": row.contact, "language": row.language,
             "status": row.status, "created_at": row.created_at.isoformat()} for row in rows]


async def report_layer(conn: AsyncConnection, report_id: int) -> tuple[str, int] | None:
    """The layer and feature a report is about, or None if there is no such report."""
    row = (await conn.execute(text("SELECT layer, feature_id FROM reports WHERE id = :id"),
                              {"id": report_id})).one_or_none()
    return (row.layer, int(row.feature_id)) if row else None


async def set_report_status(conn: AsyncConnection, report_id: int, status: str) -> None:
    await conn.execute(text("UPDATE reports SET status = :status WHERE id = :id"),
                       {"status": status, "id": report_id})
