"""Running this service process's jobs: each in a process of its own, a few at a time, their rows
kept alive while they run.

A job process is forked from a template process that has already imported geopandas, pyogrio
and the importer (multiprocessing's ``forkserver``), so it starts in milliseconds and its memory
is its own: a big import can neither stall the event loop nor grow the server, and its memory
limit, its time limit and a crash of GDAL end only that process. The process records the job's
outcome itself; if it dies first, the manager records the failure. While a job is held here its
row's heartbeat is renewed; a job whose heartbeat stopped (its replica died) is reported failed by
whichever replica is asked next (:func:`geo_service.queries.jobs.get_job`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any
from multiprocessing.process import BaseProcess

from sqlalchemy.ext.asyncio import AsyncEngine

from geo_service.errors import ServiceError
from geo_service.jobs import imports
from geo_service.jobs.imports import ImportSpec
from geo_service.queries import jobs
from geo_service.queries.jobs import Job, Outcome
from geo_service.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between heartbeats, and after how many silent seconds a job counts as abandoned.
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0
#: Finished jobs (and their idempotency keys) are kept this long.
KEEP_DAYS = 30
#: How often a waiting request looks at a job another process holds.
POLL_S = 0.25
#: What the template process imports once, so that job processes start warm.
PRELOAD = ["geo_service.jobs.imports"]


class ServiceBusy(ServiceError):
    """No room for another job here right now; nothing was stored."""

    status = 503
    code = "ServiceUnavailable"
    headers = {"Retry-After": "30"}


class IdempotencyConflict(ServiceError):
    """An Idempotency-Key used again for a different request."""

    status = 422
    code = "IdempotencyKeyReused"


@dataclass
class _Held:
    """A job this process holds: waiting for a slot, or running in ``process``."""

    done: asyncio.Event = field(default_factory=asyncio.Event)
    process: BaseProcess | None = None
    task: asyncio.Task[None] | None = None


class JobManager:
    """The jobs of one service process (``app.state.jobs``)."""

    def __init__(self, engine: AsyncEngine, database_url: str, settings: Settings):
        self.engine = engine
        self.database_url = database_url
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.import_concurrency)
        self._held: dict[uuid.UUID, _Held] = {}
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the heartbeat. The template process starts with the first job: a replica that
        never imports never holds one (it costs a couple of seconds and ~200 MB)."""
        self._heartbeat = asyncio.create_task(self._beat(), name="jobs-heartbeat")

    async def close(self) -> None:
        """Stop every held job (its transaction rolls back) and record it as interrupted."""
        if self._heartbeat:
            self._heartbeat.cancel()
        for job_id, held in list(self._held.items()):
            if held.process is not None and held.process.is_alive():
                held.process.kill()
            if held.task:
                held.task.cancel()
            with contextlib.suppress(Exception):
                await self._record(job_id, imports.interrupted())
        for held in list(self._held.values()):
            if held.task:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await held.task

    @property
    def full(self) -> bool:
        """True when this process holds as many jobs as it may (running and waiting)."""
        return len(self._held) >= self.settings.import_queue_limit

    def check_room(self) -> None:
        """Refuse a new job while this process holds as many as it may."""
        if self.full:
            raise ServiceBusy(
                f"This service is running or queueing {len(self._held)} imports, as many as it "
                "may; nothing was stored. Please send the file again in a minute.")

    async def start_import(self, spec: ImportSpec, folder: tempfile.TemporaryDirectory[str], *,
                           actor: str, key_id: int | None, idempotency_key: str | None,
                           request_hash: str, params: dict[str, Any]) -> Job:
        """The import's job: the one already made under ``idempotency_key`` for the same
        request (run again if the service stopped it), or a new one; a job to run is submitted
        here, and ``folder`` is this process's from then on.

        Raises
        ------
        IdempotencyConflict
            The key was used before for another file or other parameters.
        ServiceBusy
            No room for another job in this process.
        """
        created: Job | None = None
        async with self.engine.begin() as conn:
            job = None
            if idempotency_key is not None:
                job = await jobs.job_by_idempotency_key(conn, key_id=key_id,
                                                        idempotency_key=idempotency_key)
                if job is not None:  # a retry: of a job that may have been interrupted
                    job = await jobs.get_job(conn, job.id, stale_after_s=STALE_AFTER_S,
                                             abandoned=imports.interrupted())
                if job is not None and job.retryable and job.request_hash == request_hash:
                    self.check_room()
                    created = await jobs.restart_job(conn, job.id)
                    job = created or await jobs.get_job(conn, job.id, stale_after_s=STALE_AFTER_S,
                                                        abandoned=imports.interrupted())
            if job is None:
                self.check_room()
                job = created = await jobs.create_job(
                    conn, kind="import", layer=spec.layer, key_id=key_id, actor=actor,
                    idempotency_key=idempotency_key, request_hash=request_hash, params=params)
            if job is None:  # another request with this key was just as fast
                job = await jobs.job_by_idempotency_key(conn, key_id=key_id,
                                                        idempotency_key=str(idempotency_key))
        if job is None:
            raise ServiceBusy("The import could not be registered; nothing was stored. "
                              "Please send the file again.")
        if job.request_hash != request_hash:
            folder.cleanup()
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for another file or other parameters "
                f"(job {job.id}); use a new key for a new import.")
        if job is created:
            self.submit(job, spec, folder)
        else:
            folder.cleanup()
        return job

    def submit(self, job: Job, spec: ImportSpec, folder: tempfile.TemporaryDirectory[str]) -> None:
        """Run ``job`` when a slot is free; ``folder`` (the upload) is removed when it ends."""
        held = self._held[job.id] = _Held()
        held.task = asyncio.create_task(self._run(job.id, spec, folder, held),
                                        name=f"job-{job.id}")

    async def wait(self, job_id: uuid.UUID, timeout: float) -> Job | None:
        """The job once it has finished, or as it is after ``timeout`` seconds."""
        held = self._held.get(job_id)
        if held is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(held.done.wait(), timeout)
            return await self.get(job_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            job = await self.get(job_id)
            if job is None or job.finished or loop.time() >= deadline:
                return job
            await asyncio.sleep(min(POLL_S, max(deadline - loop.time(), 0)))

    async def get(self, job_id: uuid.UUID) -> Job | None:
        async with self.engine.begin() as conn:
            return await jobs.get_job(conn, job_id, stale_after_s=STALE_AFTER_S,
                                      abandoned=imports.interrupted())

    # -- running ---------------------------------------------------------------------------------
    async def _run(self, job_id: uuid.UUID, spec: ImportSpec,
                   folder: tempfile.TemporaryDirectory[str], held: _Held) -> None:
        try:
            async with self._slots:
                outcome = await self._execute(job_id, spec, held)
            if outcome is not None:
                await self._record(job_id, outcome)
        except Exception:
            log.exception("job %s could not be run", job_id)
            with contextlib.suppress(Exception):
                await self._record(job_id, imports.crashed())
        finally:
            folder.cleanup()
            self._held.pop(job_id, None)
            held.done.set()

    async def _execute(self, job_id: uuid.UUID, spec: ImportSpec, held: _Held) -> Outcome | None:
        """Run the job's process to its end; what to record if it could not record it itself."""
        spec = dataclasses.replace(spec, service_pid=os.getpid())
        process = self._context.Process(target=imports.run, args=(str(job_id), spec),
                                        name=f"import-{job_id}", daemon=True)
        loop = asyncio.get_running_loop()
        # Handing the job to the template process is a blocking socket exchange.
        await loop.run_in_executor(None, process.start)
        held.process = process
        try:
            await asyncio.wait_for(self._exited(process), self.settings.import_timeout_s)
        except TimeoutError:
            process.kill()
            await self._exited(process)
            return imports.timed_out(self.settings.import_timeout_s)
        finally:
            if process.is_alive():  # cancelled: the service is stopping
                process.kill()
        process.join(timeout=5)
        if process.exitcode == 0:
            return None  # the process recorded the outcome
        log.warning("import job %s ended with exit code %s", job_id, process.exitcode)
        return imports.crashed(process.exitcode)

    @staticmethod
    async def _exited(process: BaseProcess) -> None:
        """Until ``process`` has ended, without a thread: its sentinel becomes readable."""
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        sentinel = process.sentinel

        def on_exit() -> None:
            if not ended.done():
                ended.set_result(None)

        loop.add_reader(sentinel, on_exit)
        try:
            if process.exitcode is None:
                await ended
        finally:
            loop.remove_reader(sentinel)

    async def _record(self, job_id: uuid.UUID, outcome: Outcome) -> None:
        async with self.engine.begin() as conn:
            await jobs.finish_unfinished(conn, job_id, outcome)

    async def _beat(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with self.engine.begin() as conn:
                    if self._held:
                        await jobs.renew(conn, list(self._held))
                    if beats % 720 == 0:  # about hourly
                        await jobs.delete_old(conn, days=KEEP_DAYS)
                beats += 1
            except Exception as exc:  # the database is away: try again at the next beat
                log.warning("job heartbeat failed: %s", exc)
