"""'Near me': nearest meeting places and offers as GeoJSON, with distances in metres."""

from __future__ import annotations

import datetime as dt

import orjson
from fastapi import APIRouter, Request, Response

from geo_service.api.deps import ReadDep, RegistryDep, SettingsDep
from geo_service.api.params import parse_bool, parse_instant, parse_int, parse_number
from geo_service.api.responses import GeoJSONResponse
from geo_service.errors import InvalidParameter
from geo_service.layers import Registry
from geo_service.queries.nearby import NEARBY_TABLES, NearbyQuery, find_nearby

router = APIRouter(tags=["In meiner Nähe"])

PARAMS = frozenset({
    "lon", "lat", "radius", "limit", "layers", "category", "target_group", "language", "kind",
    "wheelchair", "free", "open_at", "areas", "day", "f", "lang",
})


def _float(value: str | None, name: str, low: float, high: float) -> float:
    if value is None:
        raise InvalidParameter(f"{name} fehlt (Dezimalgrad, z. B. lon=10.55&lat=52.49).")
    return parse_number(value, name, low, high)


def _list(request: Request, name: str) -> list[str]:
    values = [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",")]
    return [v for v in values if v]


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    return False if value is None else parse_bool(value, name)


def parse_nearby(request: Request, registry: Registry) -> NearbyQuery:
    unknown = [k for k in request.query_params if k not in PARAMS]
    if unknown:
        raise InvalidParameter(
            f"Unbekannter Parameter »{unknown[0][:40]}«. Parameter: {', '.join(sorted(PARAMS))}."
        )
    qp = request.query_params
    query = NearbyQuery(lon=_float(qp.get("lon"), "lon", -180, 180),
                        lat=_float(qp.get("lat"), "lat", -90, 90))
    if "limit" in qp:
        query.limit = parse_int(qp["limit"], "limit", 1, 100)
    if "radius" in qp:
        query.radius_m = _float(qp["radius"], "radius", 1, 200_000)
    if "layers" in qp:
        query.layers = _list(request, "layers")
        wrong = [n for n in query.layers if n not in NEARBY_TABLES or n not in registry]
        if wrong or not query.layers:
            raise InvalidParameter(f"layers: wählen Sie aus {', '.join(NEARBY_TABLES)}.")
    query.categories = _list(request, "category")
    query.target_groups = _list(request, "target_group")
    query.languages = _list(request, "language")
    query.kinds = _list(request, "kind")
    query.wheelchair = _flag(request, "wheelchair")
    query.free = _flag(request, "free")
    query.areas = _flag(request, "areas")
    if "day" in qp:
        day = parse_instant(qp["day"], "day")
        if day is None or isinstance(day, dt.datetime):
            raise InvalidParameter("day braucht ein Datum, z. B. day=2026-11-24.")
        query.day = day
    if "open_at" in qp:
        when = qp["open_at"]
        if when == "now":
            query.open_at = dt.datetime.now(dt.timezone.utc)
        else:
            instant = parse_instant(when, "open_at")
            if not isinstance(instant, dt.datetime):
                raise InvalidParameter("open_at braucht Datum und Uhrzeit, z. B. "
                                       "2026-11-23T10:00+01:00, oder »now«.")
            query.open_at = instant
    return query


@router.get("/nearby", include_in_schema=False)
async def get_nearby(request: Request, registry: RegistryDep, settings: SettingsDep,
                     conn: ReadDep) -> Response:
    query = parse_nearby(request, registry)
    layers = [registry.get(n) for n in query.layers]
    hits = await find_nearby(conn, [layer for layer in layers if layer], query,
                             precision=settings.coordinate_precision)
    head = orjson.dumps({
        "type": "FeatureCollection",
        "numberReturned": len(hits),
        "query": {"lon": query.lon, "lat": query.lat, "radius_m": query.radius_m,
                  "distance": "straight line (great circle), metres"},
    })[:-1]
    body = head + b',"features":[' + ",".join(h.feature for h in hits).encode() + b"]}"
    return GeoJSONResponse(body, headers={"Cache-Control": "no-store"})
