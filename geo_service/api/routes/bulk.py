"""Bulk import over HTTP: the CLI's import (same reader, rules and report), all or nothing, run
as a job so that a big file never holds up the other clients.

The answer is the finished report when the job ends within ``import_wait_s`` (and within the
request timeout), else ``202 Accepted`` with the job's address, which any replica can answer. An
answer never contradicts what is stored: once a job exists the client is pointed to it, and a
request refused before that has stored nothing.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from pathlib import Path, PurePath
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request, Response

from geo_service.api.deps import LayerDep, SettingsDep
from geo_service.api.imports import check_import_grant, job_answer
from geo_service.api.routes.edit import PrincipalDep
from geo_service.errors import InvalidParameter, PayloadTooLarge, UnsupportedMediaType
from geo_service.io.formats import Format, check_media_type, format_of
from geo_service.jobs.imports import ImportSpec
from geo_service.jobs.manager import JobManager, ServiceBusy

router = APIRouter(tags=["Bearbeiten"])

#: Form encodings are refused: the body is the file itself (python-multipart is not installed,
#: and a cross-site HTML form cannot send another content type without a CORS preflight).
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain")
#: Time kept back from the request timeout for creating the job and answering.
TIMEOUT_MARGIN_S = 1.0
#: What an Idempotency-Key may be (draft-ietf-httpapi-idempotency-key-header; quotes optional).
_IDEMPOTENCY_KEY = re.compile(r'^"?([\x21\x23-\x7e]{1,255})"?$')


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    match = _IDEMPOTENCY_KEY.match(value.strip())
    if match is None:
        raise InvalidParameter("Idempotency-Key must be 1 to 255 visible ASCII characters, "
                               'e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324".')
    return match.group(1)


def _stored_name(filename: str, fmt: Format) -> str:
    """The upload's own file name (messages name it), reduced to harmless characters."""
    name = PurePath(filename.replace("\\", "/")).name
    stem = re.sub(r"[^\w.\- ]", "_", PurePath(name).stem).strip(" .")[:100] or "upload"
    suffix = PurePath(name).suffix.lower()
    return stem + (suffix if suffix in fmt.suffixes else fmt.suffixes[0])


async def _save_body(request: Request, path: Path, limit_bytes: int) -> str:
    """Stream the body to ``path``, bounded while reading (chunked uploads carry no length);
    returns its SHA-256."""
    written = 0
    digest = hashlib.sha256()
    with path.open("wb") as out:
        async for chunk in request.stream():
            written += len(chunk)
            if written > limit_bytes:
                raise PayloadTooLarge(f"The file is larger than {limit_bytes // 1_000_000} MB.")
            digest.update(chunk)
            out.write(chunk)
    if written == 0:
        raise InvalidParameter("The request body is empty: send the file itself as the body.")
    return digest.hexdigest()


@router.post("/collections/{layer}/import", include_in_schema=False)
async def import_file(
    request: Request, layer: LayerDep, settings: SettingsDep, who: PrincipalDep,
    filename: Annotated[str, Query(max_length=200, description="The file's name, for its format")],
    crs: Annotated[str | None, Query(max_length=100)] = None,
    file_layer: Annotated[str | None, Query(max_length=200)] = None,
    dry_run: bool = False,
    replace: bool = False,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    started = time.monotonic()
    check_import_grant(who, layer)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in FORM_TYPES:
        raise UnsupportedMediaType(
            f"Send the file itself as the body (e.g. Content-Type: application/geo+json), not "
            f"{media}; name it with ?filename=.")
    fmt = format_of(filename, upload=True)
    check_media_type(fmt, media, filename)
    key = _idempotency_key(idempotency_key)
    manager: JobManager = request.app.state.jobs
    if key is None:
        manager.check_room()
    params = {"filename": PurePath(filename.replace("\\", "/")).name, "crs": crs,
              "file_layer": file_layer, "dry_run": dry_run, "replace": replace}
    folder = tempfile.TemporaryDirectory(prefix="qk-import-")
    try:
        path = Path(folder.name) / _stored_name(filename, fmt)
        digest = await _save_body(request, path, settings.max_upload_mb * 1_000_000)
        left = settings.request_timeout_s - (time.monotonic() - started) - TIMEOUT_MARGIN_S
        if left <= 0:
            raise ServiceBusy(
                "The upload took up nearly all of the request's time; nothing was stored. "
                "Please send the file again (over a faster connection).")
        spec = ImportSpec(
            database_url=manager.database_url,
            settings=settings.model_dump(mode="json"), layer=layer.id, path=str(path), crs=crs,
            file_layer=file_layer, dry_run=dry_run, replace=replace, actor=who.actor,
            key_id=who.key_id)
        fingerprint = hashlib.sha256(
            orjson.dumps({"layer": layer.id, "body": digest, **params},
                         option=orjson.OPT_SORT_KEYS)).hexdigest()
        job = await manager.start_import(spec, folder, actor=who.actor, key_id=who.key_id,
                                         idempotency_key=key, request_hash=fingerprint,
                                         params=params)
    except BaseException:
        folder.cleanup()
        raise
    job = await manager.wait(job.id, min(settings.import_wait_s, left)) or job
    return job_answer(request, settings, job)
