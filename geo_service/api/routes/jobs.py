"""Jobs over HTTP: ``GET /jobs/{id}`` shows an import's state and, once finished, its report —
on any replica, to a key that may import into the job's layer."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from geo_service.api.deps import RegistryDep, SettingsDep
from geo_service.api.imports import check_import_grant, status_response
from geo_service.api.routes.edit import PrincipalDep
from geo_service.errors import Forbidden, ServiceError
from geo_service.jobs.manager import JobManager

router = APIRouter(tags=["Bearbeiten"])


class JobNotFound(ServiceError):
    status = 404
    code = "NotFound"


@router.get("/jobs/{job_id}", include_in_schema=False)
async def get_job(request: Request, job_id: str, registry: RegistryDep, settings: SettingsDep,
                  who: PrincipalDep) -> Response:
    missing = JobNotFound(f"There is no job '{job_id[:40]}' that your key may see.")
    try:
        wanted = uuid.UUID(job_id)
    except ValueError:
        raise missing from None
    manager: JobManager = request.app.state.jobs
    job = await manager.get(wanted)
    layer = registry.get(job.layer) if job is not None else None
    if job is None or (layer is None and not who.admin):
        raise missing
    if layer is not None:
        try:
            check_import_grant(who, layer)  # the same grant the import needed
        except Forbidden:
            raise missing from None
    return status_response(request, settings, job)
