"""OGC API – Features: landing page, conformance, collections, queryables, items."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from geo_service.api import documents
from geo_service.api.deps import LangDep, LayerDep, ReadDep, RegistryDep, SettingsDep
from geo_service.api.html import render
from geo_service.api.params import parse_items_query, parse_properties
from geo_service.api.responses import (
    GEOJSON,
    GeoJSONResponse,
    base_url,
    cache_headers,
    make_etag,
    not_modified,
    not_modified_response,
    wants,
)
from geo_service.errors import FeatureNotFound, InvalidParameter
from geo_service.queries.items import (
    ItemsQuery,
    count_features,
    fetch_feature,
    fetch_features,
    stream_features,
)
from geo_service.queries.crs import parse_crs
from geo_service.queries.edit import item_etag
from geo_service.queries.metadata import extent, last_changed

router = APIRouter(tags=["OGC API – Features"])

#: Pages larger than this are streamed row by row instead of aggregated in one value.
STREAM_ABOVE = 2000


def _json(doc: object, headers: dict[str, str] | None = None, media_type: str = "application/json") -> Response:
    return Response(orjson.dumps(doc), media_type=media_type, headers=headers)


@router.get("/", include_in_schema=False)
async def show_landing_page(request: Request, settings: SettingsDep, lang: LangDep) -> Response:
    base = base_url(request, settings.public_url)
    doc = documents.landing(base, lang)
    if wants(request) == "html":
        return render("document.html", base=base, lang=lang, title=doc["title"],
                      description=doc["description"], links=doc["links"])
    return _json(doc)


@router.get("/conformance", include_in_schema=False)
async def show_conformance(request: Request, settings: SettingsDep) -> Response:
    doc = {"conformsTo": documents.CONFORMANCE}
    if wants(request) == "html":
        base = base_url(request, settings.public_url)
        return render("document.html", base=base, title="Konformität", header=["Klasse"],
                      rows=[[c] for c in documents.CONFORMANCE])
    return _json(doc)


@router.get("/collections", include_in_schema=False)
async def list_collections(request: Request, settings: SettingsDep, registry: RegistryDep,
                           conn: ReadDep, lang: LangDep) -> Response:
    fmt = wants(request)
    base = base_url(request, settings.public_url)
    docs = [documents.collection(layer, await extent(conn, layer), base, lang) for layer in registry]
    doc = documents.collections(registry, docs, base)
    if fmt == "html":
        rows = [[{"href": f"{base}/collections/{d['id']}?f=html", "text": d["title"]}, d["description"],
                 d["license"]] for d in docs]
        return render("document.html", base=base, lang=lang, title="Sammlungen",
                      header=["Sammlung", "Beschreibung", "Lizenz"], rows=rows, links=doc["links"])
    return _json(doc)


@router.get("/collections/{layer}", include_in_schema=False)
async def show_collection(request: Request, layer: LayerDep, settings: SettingsDep, conn: ReadDep,
                          lang: LangDep) -> Response:
    fmt = wants(request)
    base = base_url(request, settings.public_url)
    doc = documents.collection(layer, await extent(conn, layer), base, lang)
    if fmt == "html":
        rows = [[p.name, p.label(lang), p.type] for p in layer.public_properties]
        return render("document.html", base=base, lang=lang, title=doc["title"],
                      description=doc["description"], header=["Eigenschaft", "Titel", "Typ"],
                      rows=rows, links=doc["links"])
    return _json(doc)


@router.get("/collections/{layer}/queryables", include_in_schema=False)
async def show_queryables(request: Request, layer: LayerDep, settings: SettingsDep,
                          lang: LangDep) -> Response:
    doc = documents.queryables(layer, base_url(request, settings.public_url), lang)
    return _json(doc, media_type="application/schema+json")


@router.get("/collections/{layer}/sortables", include_in_schema=False)
async def show_sortables(request: Request, layer: LayerDep, settings: SettingsDep,
                         lang: LangDep) -> Response:
    doc = documents.queryables(layer, base_url(request, settings.public_url), lang, sortables=True)
    return _json(doc, media_type="application/schema+json")


def _page_links(request: Request, base: str, layer_id: str, query: ItemsQuery, matched: int) -> list[dict[str, str]]:
    url = f"{base}/collections/{layer_id}/items"
    params = {k: v for k, v in request.query_params.items() if k not in ("offset", "f")}

    def href(offset: int | None = None, fmt: str | None = None) -> str:
        merged = dict(params)
        if offset:
            merged["offset"] = str(offset)
        if fmt:
            merged["f"] = fmt
        from urllib.parse import urlencode

        qs = urlencode(merged)
        return f"{url}?{qs}" if qs else url

    links = [
        documents.link(href(query.offset), "self", GEOJSON, "Diese Seite"),
        documents.link(href(query.offset, "html"), "alternate", "text/html", "HTML"),
        documents.link(f"{base}/collections/{layer_id}", "collection", "application/json", "Sammlung"),
    ]
    if query.offset + query.limit < matched:
        links.append(documents.link(href(query.offset + query.limit), "next", GEOJSON, "Nächste Seite"))
    if query.offset > 0:
        links.append(documents.link(href(max(0, query.offset - query.limit)), "prev", GEOJSON,
                                    "Vorige Seite"))
    return links


@router.get("/collections/{layer}/items", include_in_schema=False)
async def get_items(request: Request, layer: LayerDep, settings: SettingsDep, conn: ReadDep,
                    lang: LangDep) -> Response:
    params = request.query_params
    multi = {k: params.getlist(k) for k in params}
    query = parse_items_query(layer, params, settings, multi)
    fmt = wants(request)
    changed = await last_changed(conn, layer)
    etag = make_etag(layer.id, changed.isoformat(), str(request.url.query), fmt, lang)
    headers = cache_headers(etag, changed, settings.cache_max_age)
    if not_modified(request, etag, changed):
        return not_modified_response(headers)
    base = base_url(request, settings.public_url)
    matched = await count_features(conn, layer, query)
    returned = max(0, min(query.limit, matched - query.offset))
    links = _page_links(request, base, layer.id, query, matched)
    headers["Content-Crs"] = f"<{query.crs.uri}>"
    precision = settings.coordinate_precision
    if fmt == "html":
        features = json.loads(await fetch_features(conn, layer, query, precision=precision))
        return _items_html(layer, features, links, base, lang, matched, headers)
    head = orjson.dumps({
        "type": "FeatureCollection", "numberMatched": matched, "numberReturned": returned,
        "links": links,
    })[:-1] + b',"features":'
    if query.limit <= STREAM_ABOVE:
        body = head + (await fetch_features(conn, layer, query, precision=precision)).encode() + b"}"
        return GeoJSONResponse(body, headers=headers)

    async def chunks() -> AsyncIterator[bytes]:
        yield head + b"["
        first = True
        async for feature in stream_features(conn, layer, query, precision=precision):
            yield (b"" if first else b",") + feature.encode()
            first = False
        yield b"]}"

    return StreamingResponse(chunks(), media_type=GEOJSON, headers=headers)


def _items_html(layer, features, links, base, lang, matched, headers) -> Response:  # type: ignore[no-untyped-def]
    props = layer.public_properties
    header = ["ID"] + [p.label(lang) for p in props]
    rows = []
    for feature in features:
        row: list[object] = [{"href": f"{base}/collections/{layer.id}/items/{feature['id']}?f=html",
                              "text": feature["id"]}]
        for prop in props:
            value = feature["properties"].get(prop.name)
            row.append(", ".join(map(str, value)) if isinstance(value, list) else value)
        rows.append(row)
    return render("document.html", base=base, lang=lang, title=layer.title.get(lang),
                  description=f"{matched} Objekte", header=header, rows=rows, links=links,
                  headers=headers)


@router.get("/collections/{layer}/items/{feature_id}", include_in_schema=False)
async def get_item(request: Request, layer: LayerDep, feature_id: str, settings: SettingsDep,
                   conn: ReadDep, lang: LangDep) -> Response:
    allowed = {"crs", "f", "properties", "precision", "lang"}
    unknown = [k for k in request.query_params if k not in allowed]
    if unknown:
        raise InvalidParameter(f"Unknown parameter '{unknown[0][:60]}' for a single item.")
    if not feature_id.isdigit() or len(feature_id) > 18:
        raise FeatureNotFound(f"There is no item '{feature_id[:40]}' in {layer.id}: ids are numbers.")
    query = ItemsQuery(crs=parse_crs(request.query_params.get("crs")))
    if "properties" in request.query_params:
        query.properties = parse_properties(layer, request.query_params["properties"])
    fmt = wants(request)
    found = await fetch_feature(conn, layer, int(feature_id), query,
                                precision=settings.coordinate_precision)
    if found is None:
        raise FeatureNotFound(f"There is no item {feature_id} in {layer.id}.")
    body, updated_at = found
    base = base_url(request, settings.public_url)
    # The item's own version tag (the one If-Match is checked against); other representations
    # (HTML, another CRS, fewer properties) get a weak tag of their own.
    default_view = fmt == "json" and set(request.query_params) <= {"f"}
    etag = item_etag(int(feature_id), updated_at) if default_view else make_etag(
        layer.id, feature_id, updated_at.isoformat(), str(request.url.query), fmt)
    headers = cache_headers(etag, updated_at, settings.cache_max_age)
    if not_modified(request, etag, updated_at):
        return not_modified_response(headers)
    headers["Content-Crs"] = f"<{query.crs.uri}>"
    feature = orjson.loads(body)
    feature["links"] = [
        documents.link(f"{base}/collections/{layer.id}/items/{feature_id}", "self", GEOJSON),
        documents.link(f"{base}/collections/{layer.id}/items/{feature_id}?f=html", "alternate",
                       "text/html"),
        documents.link(f"{base}/collections/{layer.id}", "collection", "application/json"),
    ]
    if fmt == "html":
        rows = [[p.label(lang), feature["properties"].get(p.name)] for p in layer.public_properties
                if p.name in feature["properties"]]
        return render("document.html", base=base, lang=lang, title=f"{layer.title.get(lang)} {feature_id}",
                      header=["Eigenschaft", "Wert"], rows=rows, links=feature["links"], headers=headers)
    return GeoJSONResponse(orjson.dumps(feature), headers=headers)
