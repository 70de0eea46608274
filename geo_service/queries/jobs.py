"""Jobs as rows: created with their idempotency key, renewed while alive, finished exactly once.

A job's outcome is written only while the job is still unfinished (``status IN ('accepted',
'running')``): an import commits its features and its job row in one transaction, and a job whose
process died is marked failed by a conditional update, so the row and the data never disagree —
whichever comes first wins, the other changes nothing.

The service side uses SQLAlchemy's async connections; the job process uses psycopg directly
(its outcome is written inside the import's own psycopg transaction).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

UNFINISHED = ("accepted", "running")
FINISHED = ("successful", "failed", "dismissed")

_COLUMNS = ("id, kind, layer, status, key_id, actor, idempotency_key, request_hash, params, "
            "created_at, started_at, finished_at, heartbeat_at, total, imported, replaced, "
            "rejected, http_status, result")


@dataclass(frozen=True)
class Job:
    """One job row."""

    id: uuid.UUID
    kind: str
    layer: str
    status: str
    key_id: int | None
    actor: str
    idempotency_key: str | None
    request_hash: str
    params: dict[str, Any]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime
    total: int | None
    imported: int | None
    replaced: int | None
    rejected: int | None
    http_status: int | None
    result: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def retryable(self) -> bool:
        """Finished without having done anything, because the service stopped (503): a retry
        with the same Idempotency-Key runs it again."""
        return self.status == "failed" and self.http_status == 503


@dataclass(frozen=True)
class Outcome:
    """How a job ended: its status, the HTTP answer it stands for, and the counts."""

    status: str
    http_status: int
    result: dict[str, Any]
    total: int | None = None
    imported: int | None = None
    replaced: int | None = None
    rejected: int | None = None


# -- the service (async) ------------------------------------------------------------------------
def _statement(sql: str, *json_params: str) -> Any:
    """``sql`` with the job id bound as UUID, the named parameters as JSONB, and the row's JSON
    columns read back as Python values."""
    params = [bindparam(name, type_=JSONB) for name in json_params]
    if re.search(r":id\b", sql):
        params.append(bindparam("id", type_=UUID(as_uuid=True)))
    statement = text(sql).bindparams(*params)
    if sql.startswith("SELECT") or " RETURNING " in sql:
        return statement.columns(params=JSONB, result=JSONB)  # type: ignore[return-value]
    return statement


async def create_job(conn: AsyncConnection, *, kind: str, layer: str, key_id: int | None,
                     actor: str, idempotency_key: str | None, request_hash: str,
                     params: dict[str, Any]) -> Job | None:
    """Insert an accepted job; None when the key already has a job under that idempotency key."""
    statement = _statement(
        "INSERT INTO jobs (id, kind, layer, key_id, actor, idempotency_key, request_hash, params) "
        "VALUES (:id, :kind, :layer, :key_id, :actor, :idem, :hash, :params) "
        "ON CONFLICT ((coalesce(key_id, 0)), idempotency_key) "
        "WHERE idempotency_key IS NOT NULL DO NOTHING "
        f"RETURNING {_COLUMNS}", "params")
    row = (await conn.execute(statement, {
        "id": uuid.uuid4(), "kind": kind, "layer": layer, "key_id": key_id, "actor": actor,
        "idem": idempotency_key, "hash": request_hash, "params": params})).mappings().first()
    return Job(**row) if row else None


async def job_by_idempotency_key(conn: AsyncConnection, *, key_id: int | None,
                                 idempotency_key: str) -> Job | None:
    row = (await conn.execute(_statement(
        f"SELECT {_COLUMNS} FROM jobs WHERE coalesce(key_id, 0) = coalesce(:key_id, 0) "
        "AND idempotency_key = :idem"), {"key_id": key_id, "idem": idempotency_key})
    ).mappings().first()
    return Job(**row) if row else None


async def get_job(conn: AsyncConnection, job_id: uuid.UUID, *, stale_after_s: float,
                  abandoned: Outcome) -> Job | None:
    """The job, after marking it ``abandoned`` if it is unfinished and nobody renewed it for
    ``stale_after_s`` (its process died with its replica)."""
    await finish_unfinished(conn, job_id, abandoned, stale_after_s=stale_after_s)
    row = (await conn.execute(_statement(f"SELECT {_COLUMNS} FROM jobs WHERE id = :id"),
                              {"id": job_id})).mappings().first()
    return Job(**row) if row else None


async def finish_unfinished(conn: AsyncConnection, job_id: uuid.UUID, outcome: Outcome, *,
                            stale_after_s: float | None = None) -> bool:
    """Record ``outcome`` if the job has none yet (and, with ``stale_after_s``, only if its
    heartbeat is that old); True when it was recorded."""
    stale = ("AND heartbeat_at < now() - make_interval(secs => :stale)"
             if stale_after_s is not None else "")
    statement = _statement(
        "UPDATE jobs SET status = :status, http_status = :http, result = :result, "
        "finished_at = now(), heartbeat_at = now() "
        f"WHERE id = :id AND status IN ('accepted', 'running') {stale}", "result")
    values: dict[str, Any] = {"id": job_id, "status": outcome.status,
                              "http": outcome.http_status, "result": outcome.result}
    if stale_after_s is not None:
        values["stale"] = stale_after_s
    return (await conn.execute(statement, values)).rowcount == 1


async def restart_job(conn: AsyncConnection, job_id: uuid.UUID) -> Job | None:
    """A retryable job back to accepted, for another run; None if it is not retryable (any
    more: a concurrent retry restarted it first)."""
    row = (await conn.execute(_statement(
        "UPDATE jobs SET status = 'accepted', http_status = NULL, result = NULL, total = NULL, "
        "imported = NULL, replaced = NULL, rejected = NULL, started_at = NULL, "
        "finished_at = NULL, heartbeat_at = now() "
        "WHERE id = :id AND status = 'failed' AND http_status = 503 "
        f"RETURNING {_COLUMNS}"), {"id": job_id})).mappings().first()
    return Job(**row) if row else None


async def renew(conn: AsyncConnection, job_ids: list[uuid.UUID]) -> None:
    """The heartbeat of the jobs this process holds."""
    await conn.execute(text(
        "UPDATE jobs SET heartbeat_at = now() WHERE id = ANY(:ids) "
        "AND status IN ('accepted', 'running')").bindparams(
        bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))), {"ids": job_ids})


async def delete_old(conn: AsyncConnection, *, days: int) -> int:
    """Finished jobs (and with them their idempotency keys) older than ``days``."""
    result = await conn.execute(text(
        "DELETE FROM jobs WHERE status IN ('successful', 'failed', 'dismissed') "
        "AND created_at < now() - make_interval(days => :days)"), {"days": days})
    return result.rowcount


# -- the job process (psycopg) ------------------------------------------------------------------
def start_job(conn: psycopg.Connection, job_id: uuid.UUID) -> bool:
    """accepted → running; False when the job is no longer waiting (abandoned meanwhile)."""
    cursor = conn.execute(
        "UPDATE jobs SET status = 'running', started_at = now(), heartbeat_at = now() "
        "WHERE id = %s AND status = 'accepted'", [job_id])
    return cursor.rowcount == 1


def finish_job(conn: psycopg.Connection, job_id: uuid.UUID, outcome: Outcome) -> bool:
    """Record the outcome of a running job (in the caller's transaction); False when the job
    was meanwhile marked failed, so the caller rolls its work back."""
    cursor = conn.execute(
        "UPDATE jobs SET status = %(status)s, http_status = %(http)s, result = %(result)s, "
        "total = %(total)s, imported = %(imported)s, replaced = %(replaced)s, "
        "rejected = %(rejected)s, finished_at = clock_timestamp(), heartbeat_at = clock_timestamp() "
        "WHERE id = %(id)s AND status = 'running'",
        {"id": job_id, "status": outcome.status, "http": outcome.http_status,
         "result": Jsonb(outcome.result), "total": outcome.total,
         "imported": outcome.imported, "replaced": outcome.replaced,
         "rejected": outcome.rejected})
    return cursor.rowcount == 1
