"""Bulk import over HTTP: the CLI's import (same formats, rules and report), all or nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePath
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from geo_service.api.deps import LayerDep, RegistryDep, SettingsDep
from geo_service.api.routes.edit import PrincipalDep
from geo_service.auth import Principal
from geo_service.errors import Forbidden, InvalidParameter, PayloadTooLarge, UnsupportedMediaType
from geo_service.io.importer import import_path
from geo_service.io.formats import suffixes
from geo_service.layers import Layer

router = APIRouter(tags=["Bearbeiten"])

#: What an upload may be: one file, so a Shapefile only zipped (its .dbf/.shx travel with it).
UPLOAD_SUFFIXES = tuple(sorted(suffixes(upload=True)))
#: Form encodings are refused: the body is the file itself (python-multipart is not installed,
#: and a cross-site HTML form cannot send another content type without a CORS preflight).
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain")


def check_import_grant(who: Principal, layer: Layer) -> None:
    """Bulk imports are for admins and editors granted the whole layer.

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


def _suffix(filename: str) -> str:
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InvalidParameter(
            f"filename must end in one of {', '.join(UPLOAD_SUFFIXES)} (it tells the file's "
            "format); a Shapefile is uploaded zipped.")
    return suffix


async def _save_body(request: Request, path: Path, limit_bytes: int) -> None:
    """Stream the body to ``path``, bounded while reading (chunked uploads carry no length)."""
    written = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            written += len(chunk)
            if written > limit_bytes:
                raise PayloadTooLarge(f"The file is larger than {limit_bytes // 1_000_000} MB.")
            out.write(chunk)
    if written == 0:
        raise InvalidParameter("The request body is empty: send the file itself as the body.")


@router.post("/collections/{layer}/import", include_in_schema=False)
async def import_file(
    request: Request, layer: LayerDep, registry: RegistryDep, settings: SettingsDep,
    who: PrincipalDep,
    filename: Annotated[str, Query(max_length=200, description="The file's name, for its format")],
    crs: Annotated[str | None, Query(max_length=100)] = None,
    file_layer: Annotated[str | None, Query(max_length=200)] = None,
    dry_run: bool = False,
    replace: bool = False,
) -> Response:
    check_import_grant(who, layer)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in FORM_TYPES:
        raise UnsupportedMediaType(
            f"Send the file itself as the body (e.g. Content-Type: application/geo+json), not "
            f"{media}; name it with ?filename=.")
    suffix = _suffix(filename)
    url = request.app.state.engine.url.render_as_string(hide_password=False)
    with tempfile.TemporaryDirectory(prefix="qk-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        await _save_body(request, path, settings.max_upload_mb * 1_000_000)
        report = await run_in_threadpool(
            import_path, url, registry, layer.id, path, settings=settings, crs=crs,
            dry_run=dry_run, replace=replace, file_layer=file_layer, actor=who.actor,
            key_id=who.key_id)
    report.source = PurePath(filename.replace("\\", "/")).name
    return Response(orjson.dumps(report.to_json()), status_code=200 if report.ok else 400,
                    media_type="application/json", headers={"Cache-Control": "no-store"})
