"""OGC API – Features: landing page, conformance, collections, queryables, items."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

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
    accepts_gzip,
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
    StreamedPage,
    fetch_feature,
    fetch_items_page,
    stream_items_page,
)
from geo_service.queries.paging import CountRule
from geo_service.settings import Settings
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


def _page_links(request: Request, base: str, layer_id: str, query: ItemsQuery,
                next_cursor: str | None) -> list[dict[str, str]]:
    """self, alternate, collection, and next (a cursor: keyset paging) / prev (offset pages only)."""
    url = f"{base}/collections/{layer_id}/items"
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "cursor", "f")]

    def href(extra: list[tuple[str, str]]) -> str:
        qs = urlencode(params + extra)
        return f"{url}?{qs}" if qs else url

    here = [("cursor", request.query_params["cursor"])] if "cursor" in request.query_params else (
        [("offset", str(query.offset))] if query.offset else [])
    links = [
        documents.link(href(here), "self", GEOJSON, "Diese Seite"),
        documents.link(href([*here, ("f", "html")]), "alternate", "text/html", "HTML"),
        documents.link(f"{base}/collections/{layer_id}", "collection", "application/json", "Sammlung"),
    ]
    if next_cursor:
        links.append(documents.link(href([("cursor", next_cursor)]), "next", GEOJSON, "Nächste Seite"))
    if query.offset > 0:
        back = max(0, query.offset - query.limit)
        links.append(documents.link(href([("offset", str(back))] if back else []), "prev", GEOJSON,
                                    "Vorige Seite"))
    return links


def _collection_etag(request: Request, layer_id: str, changed: str, fmt: str, lang: str,
                     base: str, settings: Settings) -> str:
    """A strong tag: same data (the layer's last change), same normalised query, same bytes."""
    normalised = sorted(request.query_params.multi_items())
    return make_etag("items", layer_id, changed, normalised, fmt, lang, base,
                     settings.coordinate_precision, settings.count_exact_limit,
                     settings.count_estimate, accepts_gzip(request), weak=False)


def _head(page_counts: dict[str, object], links: list[dict[str, str]]) -> dict[str, object]:
    doc: dict[str, object] = {"type": "FeatureCollection"}
    doc.update({k: v for k, v in page_counts.items() if v is not None})
    doc["links"] = links
    return doc


@router.get("/collections/{layer}/items", include_in_schema=False)
async def get_items(request: Request, layer: LayerDep, settings: SettingsDep, conn: ReadDep,
                    lang: LangDep) -> Response:
    params = request.query_params
    multi = {k: params.getlist(k) for k in params}
    query = await parse_items_query(layer, params, settings, multi)
    fmt = wants(request)
    base = base_url(request, settings.public_url)
    changed = await last_changed(conn, layer)
    etag = _collection_etag(request, layer.id, changed.isoformat(), fmt, lang, base, settings)
    headers = cache_headers(etag, changed, settings.cache_max_age)
    if not_modified(request, etag, changed):
        return not_modified_response(headers)
    headers["Content-Crs"] = f"<{query.crs.uri}>"
    precision = settings.coordinate_precision
    rule = CountRule(settings.count_exact_limit, settings.count_estimate)
    if query.limit <= STREAM_ABOVE or fmt == "html":
        page = await fetch_items_page(conn, layer, query, precision=precision, rule=rule)
        links = _page_links(request, base, layer.id, query, page.next_cursor)
        if fmt == "html":
            matched = page.matched if page.matched is not None else f"{page.returned}+"
            return _items_html(layer, json.loads(page.features), links, base, lang, matched, headers)
        head = _head({"numberMatched": page.matched, "numberReturned": page.returned,
                      "numberMatchedEstimated": True if page.estimated else None}, links)
        body = orjson.dumps(head)[:-1] + b',"features":' + page.features.encode() + b"}"
        return GeoJSONResponse(body, headers=headers)

    state = StreamedPage()

    async def chunks() -> AsyncIterator[bytes]:
        # Links and counts follow the features: only then is the next cursor known.
        yield b'{"type":"FeatureCollection","features":['
        first = True
        async for feature in stream_items_page(conn, layer, query, precision=precision, rule=rule,
                                               state=state):
            yield (b"" if first else b",") + feature.encode()
            first = False
        tail = _head({"numberMatched": state.matched, "numberReturned": state.returned,
                      "numberMatchedEstimated": True if state.estimated else None},
                     _page_links(request, base, layer.id, query, state.next_cursor))
        del tail["type"]
        yield b"]," + orjson.dumps(tail)[1:]

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
