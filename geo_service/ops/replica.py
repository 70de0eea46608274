"""Reads from a streaming replica, with the primary as fallback when it lags or is gone.

Writes, keys and history always use the primary (``app.state.engine``). Read endpoints ask
:meth:`ReadRouter.connect` for a connection; it hands out the replica's while the last check
(cached per process for ``database_read_check_s``) found it reachable and at most
``database_read_max_lag_s`` behind, else the primary's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from geo_service.ops import metrics

log = logging.getLogger(__name__)

#: Seconds the replica is behind: 0 while it has replayed everything it received (an idle
#: primary sends nothing, so "time since the last replayed commit" alone would grow forever),
#: else the age of the last replayed commit; NULL when that is unknown.
LAG_SQL = text("""
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
""")

#: A replica check must not hold up a request for long: past this, use the primary.
CHECK_TIMEOUT_S = 2.0

_UNREACHABLE = (OperationalError, InterfaceError, DBAPIError, OSError, asyncio.TimeoutError)


class ReadRouter:
    """Chooses the engine for read connections.

    Parameters
    ----------
    primary, replica
        The engines; ``replica`` is None (or the primary itself) when no replica is configured.
    max_lag_s
        Beyond this replication lag, reads go to the primary.
    check_s
        How long one check's verdict is reused.
    """

    def __init__(self, primary: AsyncEngine, replica: AsyncEngine | None, *, max_lag_s: float,
                 check_s: float) -> None:
        self.primary = primary
        self.replica = replica if replica is not primary else None
        self.max_lag_s = max_lag_s
        self.check_s = check_s
        self._use_replica = False
        self._valid_until = 0.0
        self._lock = asyncio.Lock()

    async def choose(self) -> tuple[AsyncEngine, str]:
        if self.replica is None:
            return self.primary, "primary"
        if time.monotonic() >= self._valid_until:
            async with self._lock:
                if time.monotonic() >= self._valid_until:
                    self._use_replica = await self._check()
                    self._valid_until = time.monotonic() + self.check_s
        return (self.replica, "replica") if self._use_replica else (self.primary, "primary")

    async def _check(self) -> bool:
        assert self.replica is not None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with self.replica.connect() as conn:
                    lag = (await conn.execute(LAG_SQL)).scalar()
        except _UNREACHABLE as exc:
            metrics.REPLICA_LAG.set(-1)
            log.warning("read replica unreachable, reading from the primary: %s",
                        type(exc).__name__)
            return False
        lag = float(lag) if lag is not None else None
        metrics.REPLICA_LAG.set(-1 if lag is None else lag)
        if lag is None or lag > self.max_lag_s:
            log.warning("read replica lags (%s s > %s s), reading from the primary",
                        "unknown" if lag is None else round(lag, 1), self.max_lag_s)
            return False
        return True

    def mark_down(self) -> None:
        """The replica failed a connection: use the primary until the next check is due."""
        self._use_replica = False
        self._valid_until = time.monotonic() + self.check_s
        metrics.REPLICA_LAG.set(-1)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A read connection: the replica's when it is usable, else the primary's."""
        engine, target = await self.choose()
        try:
            conn = await engine.connect().start()
        except _UNREACHABLE:
            if engine is self.primary:
                raise
            log.warning("read replica connection failed, reading from the primary")
            self.mark_down()
            target = "primary"
            conn = await self.primary.connect().start()
        metrics.READS.labels(target=target).inc()
        try:
            yield conn
        finally:
            await conn.close()


def read_router(state: object) -> ReadRouter:
    """The app's router, made on first use from ``state.engine``/``state.read_engine``."""
    router = getattr(state, "read_router", None)
    primary = state.engine  # type: ignore[attr-defined]
    if router is None or router.primary is not primary:  # a new lifespan made new engines
        settings = state.settings  # type: ignore[attr-defined]
        router = ReadRouter(primary, state.read_engine,  # type: ignore[attr-defined]
                            max_lag_s=settings.database_read_max_lag_s,
                            check_s=settings.database_read_check_s)
        state.read_router = router  # type: ignore[attr-defined]
    return router
