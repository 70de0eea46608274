"""The import job: one upload read, validated and written in a process of its own, through the
same code as the command line, its outcome recorded in the job's row.

The process is forked from a warm template (see :mod:`geo_service.jobs.manager`), limits its own
memory, and ends when the service process does. A successful import commits its features and its finished job
row in one transaction; every other outcome (rejections, dry run, an unreadable file) changes no
data, and is recorded afterwards.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from geo_service.errors import ServiceError
from geo_service.io.importer import ImportReport, import_path
from geo_service.layers import Registry
from geo_service.queries import jobs
from geo_service.queries.jobs import Outcome
from geo_service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportSpec:
    """Everything an import job needs, handed to its process."""

    database_url: str
    settings: dict[str, Any]  # Settings.model_dump(mode="json") of the service
    layer: str
    path: str  # the uploaded file, in a folder the service removes when the job ends
    crs: str | None = None
    file_layer: str | None = None
    dry_run: bool = False
    replace: bool = False
    actor: str = "cli"
    key_id: int | None = None
    service_pid: int | None = None  # the job ends when this process does


def failure(status: int, code: str, detail: str) -> Outcome:
    """A failed job's outcome as the OGC exception document the upload is answered with."""
    return Outcome("failed", status,
                   {"code": code, "description": detail, "detail": detail, "status": status})


def interrupted() -> Outcome:
    return failure(503, "ServiceUnavailable",
                   "Der Import wurde unterbrochen, weil der Dienst beendet oder neu gestartet "
                   "wurde; nichts wurde gespeichert. Bitte laden Sie die Datei erneut hoch.")


def crashed(exit_code: int | None = None) -> Outcome:
    code = f" (Code {exit_code})" if exit_code is not None else ""
    return failure(400, "InvalidData",
                   f"Die Datei ließ sich nicht verarbeiten: der Importprozess ist abgebrochen{code}; "
                   "nichts wurde gespeichert. Prüfen Sie die Datei oder speichern Sie sie erneut.")


def timed_out(seconds: float) -> Outcome:
    return failure(413, "PayloadTooLarge",
                   f"Der Import dauerte länger als {seconds / 60:g} Minuten und wurde abgebrochen "
                   "(Einstellung GEO_SERVICE_IMPORT_TIMEOUT_S); nichts wurde gespeichert. Teilen "
                   "Sie die Datei auf.")


def out_of_memory(megabytes: int) -> Outcome:
    return failure(413, "PayloadTooLarge",
                   f"Der Import brauchte mehr als {megabytes} MB Arbeitsspeicher und wurde "
                   "abgebrochen (Einstellung GEO_SERVICE_IMPORT_MAX_MEMORY_MB); nichts wurde "
                   "gespeichert. Teilen Sie die Datei auf.")


def outcome_of(report: ImportReport) -> Outcome:
    return Outcome("successful" if report.ok else "failed", 200 if report.ok else 400,
                   report.to_json(), total=report.total, imported=report.imported,
                   replaced=report.replaced, rejected=report.rejected_count)


def libpq_url(url: str) -> str:
    """``postgresql://…`` for psycopg, whatever driver the service's URL names."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def run(job_id: str, spec: ImportSpec) -> None:
    """The job process: start the job, import, record the outcome (exactly once)."""
    if spec.service_pid is not None:
        threading.Thread(target=_end_with, args=(spec.service_pid,), daemon=True).start()
    settings = Settings(_env_file=None, **spec.settings)  # type: ignore[call-arg]
    if settings.import_max_memory_mb > 0:
        limit = settings.import_max_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    job = uuid.UUID(job_id)
    with psycopg.connect(libpq_url(spec.database_url), autocommit=True) as conn:
        if not jobs.start_job(conn, job):
            return  # marked failed meanwhile (the service went away): nothing to do
        outcome = _import(job, spec, settings)
        if outcome is not None:
            jobs.finish_job(conn, job, outcome)


def _import(job: uuid.UUID, spec: ImportSpec, settings: Settings) -> Outcome | None:
    """Run the import; the outcome still to record, or None when it was recorded (or refused)
    in the import's own transaction."""
    committed: list[bool] = []

    def record(tx: psycopg.Connection, report: ImportReport) -> bool:
        committed.append(jobs.finish_job(tx, job, outcome_of(report)))
        return committed[-1]

    try:
        report = import_path(
            spec.database_url, Registry.from_dir(settings.layers_dir), spec.layer, spec.path,
            settings=settings, crs=spec.crs, dry_run=spec.dry_run, replace=spec.replace,
            file_layer=spec.file_layer, actor=spec.actor, key_id=spec.key_id,
            before_commit=record)
    except ServiceError as exc:  # ImportError_, ImportTooLarge: the file's own problem
        return failure(exc.status, exc.code, exc.detail)
    except MemoryError:
        return out_of_memory(settings.import_max_memory_mb)
    except Exception:
        log.exception("import job %s failed", job)
        return crashed()
    return None if committed else outcome_of(report)


def _end_with(pid: int) -> None:
    """End this process as soon as the service process ``pid`` is gone.

    A job process is a child of the template process, which outlives the service while any
    job runs; without this an import would go on unwatched. Ending here drops the database
    connection, so the import's transaction is rolled back and the job, no longer renewed, is
    reported interrupted.
    """
    while True:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            log.warning("service process %s is gone; ending import job process", pid)
            os._exit(70)
        except PermissionError:  # alive, under another user
            pass
