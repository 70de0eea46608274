"""Imports over HTTP, shared by the upload and the job routes: who may import, the job's status
document at ``/jobs/{id}`` (with OGC API – Processes' status words), and what an upload is
answered with — its finished result, or 202 with the job's address."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from fastapi import Request, Response

from geo_service.api.responses import base_url
from geo_service.auth import Principal
from geo_service.errors import Forbidden
from geo_service.layers import Layer
from geo_service.queries.jobs import Job
from geo_service.settings import Settings

#: How soon a client should look at an unfinished job again.
RETRY_AFTER_S = 2


def check_import_grant(who: Principal, layer: Layer) -> None:
    """Bulk imports (and their jobs) are for admins and editors granted the whole layer.

    A key narrowed to districts or an organisation is refused: a file could hold features
    outside its scope, and checking each one would differ from what the CLI import does.
    """
    if not who.may_edit(layer.id):
        raise Forbidden(f"Your key may not edit the layer {layer.id}, so it may not import "
                        "into it.")
    if who.narrowed:
        raise Forbidden("Your key is limited to certain districts or to one organisation; a bulk "
                        f"import may change the whole layer {layer.id}. Ask an admin for a key "
                        "granted the whole layer, or edit the features one by one.")


def job_url(request: Request, settings: Settings, job: Job) -> str:
    return f"{base_url(request, settings.public_url)}/jobs/{job.id}"


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _message(job: Job) -> str:
    if job.status == "accepted":
        return "Der Import wartet darauf, dass ein laufender Import fertig wird."
    if job.status == "running":
        return "Der Import läuft."
    result = job.result or {}
    text = result.get("summary") if job.status == "successful" else result.get("description")
    return str(text or "").split("\n", 1)[0]


def status_document(request: Request, settings: Settings, job: Job) -> dict[str, Any]:
    """What ``GET /jobs/{id}`` shows: state, times, counts, and once finished the result the
    upload is (or would have been) answered with, and its HTTP status."""
    base = base_url(request, settings.public_url)
    href = job_url(request, settings, job)
    return {
        "jobID": str(job.id), "type": "process", "processID": job.kind, "status": job.status,
        "message": _message(job), "layer": job.layer, "source": job.params.get("filename"),
        "dry_run": bool(job.params.get("dry_run")), "replace": bool(job.params.get("replace")),
        "created": _time(job.created_at), "started": _time(job.started_at),
        "finished": _time(job.finished_at), "updated": _time(job.heartbeat_at),
        "total": job.total, "imported": job.imported, "replaced": job.replaced,
        "rejected": job.rejected, "http_status": job.http_status, "result": job.result,
        "links": [
            {"rel": "self", "href": href, "type": "application/json", "title": "Dieser Auftrag"},
            {"rel": "collection", "href": f"{base}/collections/{job.layer}",
             "type": "application/json", "title": "Der Layer"},
        ],
    }


def status_response(request: Request, settings: Settings, job: Job) -> Response:
    headers = {"Cache-Control": "no-store"}
    if not job.finished:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return Response(orjson.dumps(status_document(request, settings, job)),
                    media_type="application/json", headers=headers)


def job_answer(request: Request, settings: Settings, job: Job) -> Response:
    """An upload's answer: the job's result with its status once finished, else 202 Accepted
    with the job's address (``Location``) to watch."""
    href = job_url(request, settings, job)
    headers = {"Cache-Control": "no-store", "Link": f'<{href}>; rel="monitor"'}
    if job.finished and job.result is not None and job.http_status is not None:
        headers["Content-Location"] = href
        if job.http_status == 503:
            headers["Retry-After"] = "30"
        body = {**job.result, "job": {"id": str(job.id), "href": href, "status": job.status}}
        return Response(orjson.dumps(body), status_code=job.http_status,
                        media_type="application/json", headers=headers)
    headers.update({"Location": href, "Retry-After": str(RETRY_AFTER_S)})
    return Response(orjson.dumps(status_document(request, settings, job)), status_code=202,
                    media_type="application/json", headers=headers)
