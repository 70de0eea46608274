"""Writing (OGC API – Features Part 4 style): create, replace, patch, delete, restore, history."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from geo_service import editing
from geo_service.api.deps import LayerDep, SettingsDep, write_transaction
from geo_service.api.responses import GEOJSON
from geo_service.auth import Principal, authenticate
from geo_service.errors import FeatureNotFound, InvalidData, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from geo_service.queries.edit import StoredFeature
from geo_service.validation import ServiceArea

router = APIRouter(tags=["Bearbeiten"])

JSON_TYPES = ("application/json", "application/geo+json", "application/merge-patch+json")


async def get_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Writing needs an API key: send 'Authorization: Bearer <key>'.")
    # Keys live on the primary (a replica may lag behind a revocation).
    async with request.app.state.engine.connect() as conn:
        principal = await authenticate(conn, token.strip())
    if principal is None:
        raise Unauthorized("The API key is unknown or has been revoked.")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def read_json(request: Request, limit_bytes: int) -> Any:
    """The request body as JSON: bounded in size, checked for media type and encoding."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise UnsupportedMediaType(f"Send JSON ({', '.join(JSON_TYPES)}), not '{media[:60] or 'nothing'}'.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit_bytes:
            raise PayloadTooLarge(f"The body is larger than {limit_bytes // 1_000_000} MB.")
    try:
        return orjson.loads(bytes(body))
    except orjson.JSONDecodeError as exc:
        raise InvalidData(f"The body is not valid JSON (UTF-8): {str(exc)[:120]}") from None


def _feature_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise FeatureNotFound(f"There is no item '{raw[:40]}': ids are numbers.")
    return int(raw)


def _feature_response(request: Request, layer_id: str, feature: StoredFeature, status: int) -> Response:
    location = str(request.url_for("get_item", layer=layer_id, feature_id=str(feature.id)))
    body = {"type": "Feature", "id": feature.id, "geometry": feature.geometry,
            "properties": feature.properties}
    headers = {"ETag": feature.etag, "Location": location}
    if feature.consent_voided:  # the editor must record the new person's own consent
        headers["Consent-Revoked"] = "true"
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=GEOJSON,
                    headers=headers)


def _area(request: Request) -> ServiceArea:
    area = getattr(request.app.state, "service_area", None)
    if area is None:
        area = ServiceArea.from_settings(request.app.state.settings)
        request.app.state.service_area = area
    return area


@router.post("/collections/{layer}/items", include_in_schema=False)
async def create_item(request: Request, layer: LayerDep, settings: SettingsDep,
                      who: PrincipalDep) -> Response:
    body = await read_json(request, settings.max_body_mb * 1_000_000)
    async with write_transaction(request) as conn:
        feature = await editing.create(conn, layer, who, body, area=_area(request))
    return _feature_response(request, layer.id, feature, 201)


@router.put("/collections/{layer}/items/{feature_id}", include_in_schema=False)
async def replace_item(request: Request, layer: LayerDep, feature_id: str, settings: SettingsDep,
                       who: PrincipalDep) -> Response:
    fid = _feature_id(feature_id)
    body = await read_json(request, settings.max_body_mb * 1_000_000)
    async with write_transaction(request) as conn:
        feature = await editing.replace(conn, layer, who, fid, body,
                                        if_match=request.headers.get("if-match"), area=_area(request))
    return _feature_response(request, layer.id, feature, 200)


@router.patch("/collections/{layer}/items/{feature_id}", include_in_schema=False)
async def patch_item(request: Request, layer: LayerDep, feature_id: str, settings: SettingsDep,
                     who: PrincipalDep) -> Response:
    fid = _feature_id(feature_id)
    body = await read_json(request, settings.max_body_mb * 1_000_000)
    async with write_transaction(request) as conn:
        feature = await editing.patch(conn, layer, who, fid, body,
                                      if_match=request.headers.get("if-match"), area=_area(request))
    return _feature_response(request, layer.id, feature, 200)


@router.delete("/collections/{layer}/items/{feature_id}", include_in_schema=False)
async def delete_item(request: Request, layer: LayerDep, feature_id: str,
                      who: PrincipalDep) -> Response:
    async with write_transaction(request) as conn:
        await editing.remove(conn, layer, who, _feature_id(feature_id),
                             if_match=request.headers.get("if-match"))
    return Response(status_code=204)


@router.post("/collections/{layer}/items/{feature_id}/restore", include_in_schema=False)
async def restore_item(request: Request, layer: LayerDep, feature_id: str,
                       who: PrincipalDep) -> Response:
    async with write_transaction(request) as conn:
        feature = await editing.restore(conn, layer, who, _feature_id(feature_id), area=_area(request))
    return _feature_response(request, layer.id, feature, 201)


@router.get("/collections/{layer}/items/{feature_id}/history", include_in_schema=False)
async def get_history(layer: LayerDep, feature_id: str, request: Request, who: PrincipalDep) -> Response:
    async with write_transaction(request) as conn:
        versions = await editing.history(conn, layer, who, _feature_id(feature_id))
    return Response(orjson.dumps({"layer": layer.id, "id": int(feature_id), "versions": versions},
                                 default=str), media_type="application/json",
                    headers={"Cache-Control": "private, no-store"})


@router.post("/collections/{layer}/items/{feature_id}/consent", include_in_schema=False)
async def record_consent(request: Request, layer: LayerDep, feature_id: str, settings: SettingsDep,
                         who: PrincipalDep) -> Response:
    body = await read_json(request, 100_000)
    async with write_transaction(request) as conn:
        consent_id = await editing.give_consent(conn, layer, who, _feature_id(feature_id), body)
    return Response(orjson.dumps({"consent": consent_id}), status_code=201,
                    media_type="application/json")

