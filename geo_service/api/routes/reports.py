""""Fehler melden": residents report a mistake in a map entry; stored for the layer's editors."""

from __future__ import annotations

import logging
import re
import time

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.api.deps import LangDep, RegistryDep, SettingsDep, WriteDep, write_transaction
from geo_service.api.routes.edit import PrincipalDep, read_json
from geo_service.auth import Principal
from geo_service.layers import Registry
from geo_service.errors import FeatureNotFound, Forbidden, InvalidParameter, LayerNotFound
from geo_service.ops import metrics
from geo_service.ops.clients import network_of
from geo_service.queries.reports import REPORT_STATUSES, ReportBudget, ReportsPaused, report_layer
from geo_service.queries.reports import list_reports as inbox
from geo_service.queries.reports import set_report_status, store_report

log = logging.getLogger(__name__)

router = APIRouter(tags=["Karten"], include_in_schema=False)

#: The breaker's alert is logged at most this often per process (the metric counts every refusal).
ALERT_EVERY_S = 60.0
_last_alert: float | None = None


def _raise_alert(exc: ReportsPaused, limit: int) -> None:
    """An open breaker is an incident (a flood of reports from many networks): tell operators."""
    global _last_alert
    metrics.REPORTS_PAUSED.inc()
    if _last_alert is None or time.monotonic() - _last_alert >= ALERT_EVERY_S:
        _last_alert = time.monotonic()
        log.error("reports circuit breaker open: more than %d reports this hour from all "
                  "networks together; new reports are refused for %s s", limit,
                  exc.headers.get("Retry-After"))

_FEATURE = re.compile(r"^([a-z][a-z0-9_]{0,62})\.([0-9]{1,18})$")
_EMAIL = re.compile(r"^[^@\s]{1,100}@[^@\s]{1,100}\.[^@\s]{2,}$")


@router.post("/reports", status_code=201)
async def create_report(request: Request, registry: RegistryDep, settings: SettingsDep,
                        lang: LangDep) -> Response:
    # JSON only: a cross-site HTML form cannot send it without a CORS preflight, which we refuse.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InvalidParameter("Send the report as application/json.")
    body = await read_json(request, 20_000)  # streamed and bounded, also when chunked
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
    host = request.client.host if request.client else None  # behind proxies: ops.clients
    budget = ReportBudget(per_network=settings.report_limit_per_client,
                          per_block=settings.report_limit_per_block,
                          breaker=settings.report_limit_total)
    try:
        # Committed before the answer: a report acknowledged with 201 is stored.
        async with write_transaction(request) as conn:
            report_id = await store_report(
                conn, layer, feature_id=int(match.group(2)), message=message, contact=contact,
                language=lang, network=network_of(host), block=network_of(host, wide=True),
                budget=budget)
    except ReportsPaused as exc:
        _raise_alert(exc, budget.breaker)
        raise
    return Response(orjson.dumps({"id": report_id, "status": "stored"}), status_code=201,
                    media_type="application/json")


# -- the editors' inbox (Bearer key; only the layers, districts and organisation it is granted) --
def _districts(who: Principal) -> tuple[str, ...]:
    return () if who.admin else who.districts


def _organisation(who: Principal) -> str | None:
    return None if who.admin else who.organisation


@router.get("/reports")
async def list_reports(request: Request, registry: RegistryDep, conn: WriteDep,
                       who: PrincipalDep) -> Response:
    wanted = request.query_params.get("layer")
    if wanted is not None:
        layer = registry.get(wanted)
        if layer is None:
            raise LayerNotFound(f"There is no layer '{wanted[:40]}'.")
        if not who.may_edit(layer.id):
            raise Forbidden(f"Your key may not edit the layer {layer.id}, so it cannot read its "
                            "reports.")
        layers = [layer]
    else:
        layers = [layer for layer in registry if who.may_edit(layer.id)]
    status = request.query_params.get("status", "new")
    if status not in (*REPORT_STATUSES, "all"):
        raise InvalidParameter(f"status: choose from {', '.join(REPORT_STATUSES)} or all.")
    reports = await inbox(conn, layers, status=None if status == "all" else status,
                          districts=_districts(who), organisation=_organisation(who))
    return Response(orjson.dumps({"reports": reports}), media_type="application/json",
                    headers={"Cache-Control": "private, no-store"})


@router.patch("/reports/{report_id}")
async def update_report(report_id: str, request: Request, registry: RegistryDep,
                        who: PrincipalDep) -> Response:
    async with write_transaction(request) as conn:
        return await _update_report(conn, report_id, request, registry, who)


async def _update_report(conn: AsyncConnection, report_id: str, request: Request,
                         registry: Registry, who: Principal) -> Response:
    number = int(report_id) if report_id.isdigit() and len(report_id) < 19 else None
    found = await report_layer(conn, number) if number is not None else None
    layer = registry.get(found[0]) if found else None
    if number is None or layer is None:
        raise FeatureNotFound(f"There is no report '{report_id[:40]}'.")
    if not who.may_edit(layer.id) or not await inbox(
            conn, [layer], status=None, report_id=number, districts=_districts(who),
            organisation=_organisation(who)):
        raise Forbidden("Your key may not handle reports on this entry.")
    body = await read_json(request, 10_000)
    status = body.get("status") if isinstance(body, dict) else None
    if status not in REPORT_STATUSES:
        raise InvalidParameter(f"status: choose from {', '.join(REPORT_STATUSES)}.")
    await set_report_status(conn, number, status)
    return Response(orjson.dumps({"id": number, "status": status}),
                    media_type="application/json")
