""""Fehler melden": storing reports for the layer's editors, rate-limited through the database."""

from __future__ import annotations

import hashlib
import ipaddress

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.errors import FeatureNotFound, ServiceError
from geo_service.layers import Layer
from geo_service.queries.sql import Params, layer_scope, table_of, where_clause


class RateLimited(ServiceError):
    status = 429
    code = "TooManyRequests"


def client_bucket(host: str | None) -> str:
    """A hash of the client's network (IPv4 /24, IPv6 /48): never the full address."""
    try:
        ip = ipaddress.ip_address(host or "")
        prefix = 24 if ip.version == 4 else 48
        network = str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
    except ValueError:
        network = "unknown"
    return hashlib.sha256(f"quartierskarte-report:{network}".encode()).hexdigest()[:32]


async def _count(conn: AsyncConnection, bucket: str) -> int:
    row = await conn.execute(text(
        "INSERT INTO report_counters (bucket, window_start, hits) "
        "VALUES (:bucket, date_trunc('hour', now()), 1) "
        "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = report_counters.hits + 1 "
        "RETURNING hits"), {"bucket": bucket})
    return int(row.scalar_one())


async def store_report(conn: AsyncConnection, layer: Layer, *, feature_id: int, message: str,
                       contact: str | None, language: str | None, bucket: str,
                       per_client: int, total: int) -> int:
    """Count the attempt, check the feature exists, store the report; returns its id.

    Raises
    ------
    RateLimited
        The client's network or all clients together used up this hour's budget.
    FeatureNotFound
        There is no such feature in the layer.
    """
    await conn.execute(text("DELETE FROM report_counters WHERE window_start < now() - interval '1 day'"))
    if await _count(conn, bucket) > per_client or await _count(conn, "*") > total:
        raise RateLimited("Too many reports from here in this hour; please try again later.")
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
