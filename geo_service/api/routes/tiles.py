"""OGC API – Tiles: tile matrix sets, each layer's tileset (TileJSON) and its vector tiles (MVT)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from geo_service.api import tile_documents
from geo_service.api.deps import LangDep, LayerDep, ReadDep, SettingsDep
from geo_service.api.responses import (
    accepts_gzip,
    base_url,
    cache_headers,
    make_etag,
    not_modified,
    not_modified_response,
)
from geo_service.errors import TileNotFound
from geo_service.queries.metadata import extent, last_changed
from geo_service.queries.tiles import MVT, TMS_ID, fetch_tile, tile_bounds

router = APIRouter(tags=["OGC API – Tiles"])


def _json(doc: object) -> Response:
    return Response(orjson.dumps(doc), media_type="application/json")


def _check_tms(tms: str) -> None:
    if tms != TMS_ID:
        raise TileNotFound(f"Tile matrix set '{tms[:40]}' is not offered; use {TMS_ID}.")


@router.get("/tileMatrixSets", include_in_schema=False)
async def list_tile_matrix_sets(request: Request, settings: SettingsDep) -> Response:
    return _json(tile_documents.tile_matrix_sets(base_url(request, settings.public_url)))


@router.get("/tileMatrixSets/{tms}", include_in_schema=False)
async def show_tile_matrix_set(tms: str) -> Response:
    _check_tms(tms)
    return _json(tile_documents.tile_matrix_set())


@router.get("/collections/{layer}/tiles", include_in_schema=False)
async def list_tilesets(request: Request, layer: LayerDep, settings: SettingsDep) -> Response:
    return _json(tile_documents.tilesets(base_url(request, settings.public_url), layer))


@router.get("/collections/{layer}/tiles/{tms}", include_in_schema=False)
async def show_tileset(request: Request, layer: LayerDep, tms: str, settings: SettingsDep,
                       conn: ReadDep, lang: LangDep) -> Response:
    _check_tms(tms)
    base = base_url(request, settings.public_url)
    return _json(tile_documents.tileset(base, layer, await extent(conn, layer), lang))


@router.get("/collections/{layer}/tiles/{tms}/{z}/{x}/{y}", include_in_schema=False)
async def get_tile(request: Request, layer: LayerDep, tms: str, z: int, x: int, y: int,
                   settings: SettingsDep, conn: ReadDep) -> Response:
    _check_tms(tms)
    bounds = tile_bounds(layer, z, x, y)
    changed = await last_changed(conn, layer)
    limit = layer.tiles.max_features or settings.tile_max_features
    names = ",".join(p.name for p in layer.tile_properties)
    # The same data and options give the same bytes: a strong tag (per content coding).
    etag = make_etag("tile", layer.id, changed.isoformat(), z, x, y, limit, names,
                     accepts_gzip(request), weak=False)
    headers = cache_headers(etag, changed, settings.tile_cache_max_age)
    if not_modified(request, etag, changed):
        return not_modified_response(headers)
    body = await fetch_tile(conn, layer, bounds, max_features=settings.tile_max_features)
    return Response(body, media_type=MVT, headers=headers)
