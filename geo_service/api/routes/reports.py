""""Fehler melden": residents report a mistake in a map entry; stored for the layer's editors."""

from __future__ import annotations

import re

import orjson
from fastapi import APIRouter, Request, Response

from geo_service.api.deps import LangDep, RegistryDep, SettingsDep, WriteDep
from geo_service.errors import InvalidParameter, LayerNotFound
from geo_service.queries.reports import client_bucket, store_report

router = APIRouter(tags=["Karten"], include_in_schema=False)

_FEATURE = re.compile(r"^([a-z][a-z0-9_]{0,62})\.([0-9]{1,18})$")
_EMAIL = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,100}\.[^@\s]{2,}$")


@router.post("/reports", status_code=201)
async def create_report(request: Request, registry: RegistryDep, settings: SettingsDep,
                        conn: WriteDep, lang: LangDep) -> Response:
    # JSON only: a cross-site HTML form cannot send it without a CORS preflight, which we refuse.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidParameter("Send the report as application/json.")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise InvalidParameter("The report is not valid JSON.") from None
    if not isinstance(body, dict):
        raise InvalidParameter("The report must be a JSON object.")
    match = _FEATURE.match(str(body.get("feature", "")))
    if not match:
        raise InvalidParameter("feature must name an entry, e.g. 'meeting_places.5'.")
    layer = registry.get(match.group(1))
    if layer is None:
        raise LayerNotFound(f"There is no layer '{match.group(1)}'.")
    message = str(body.get("message") or "").strip()
    if not 3 <= len(message) <= 2000:
        raise InvalidParameter("message must have 3 to 2000 characters.")
    contact = str(body.get("contact") or "").strip() or None
    if contact is not None and (len(contact) > 200 or not _EMAIL.match(contact)):
        raise InvalidParameter("contact must be an e-mail address (or left empty).")
    report_id = await store_report(
        conn, layer, feature_id=int(match.group(2)), message=message, contact=contact,
        language=lang, bucket=client_bucket(request.client.host if request.client else None),
        per_client=settings.report_limit_per_client, total=settings.report_limit_total)
    return Response(orjson.dumps({"id": report_id, "status": "stored"}), status_code=201,
                    media_type="application/json")
