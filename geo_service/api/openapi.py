"""The OpenAPI 3.0 document: one path per layer, whose schemas carry that layer's real properties."""

from __future__ import annotations

import copy
from typing import Any

from geo_service import __version__
from geo_service.api.openapi_edit import SECURITY_SCHEMES, add_write_operations, write_schemas
from geo_service.api.documents import GEOMETRY_SCHEMA_REF, property_schema
from geo_service.layers import Layer, Registry
from geo_service.queries.crs import crs_list
from geo_service.settings import Settings

GEOJSON = "application/geo+json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _position() -> dict[str, Any]:
    return {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}


def _geometry_schemas() -> dict[str, Any]:
    pos = _position()
    ring = {"type": "array", "items": pos}
    kinds = {
        "Point": pos,
        "MultiPoint": {"type": "array", "items": pos},
        "LineString": ring,
        "MultiLineString": {"type": "array", "items": ring},
        "Polygon": {"type": "array", "items": ring},
        "MultiPolygon": {"type": "array", "items": {"type": "array", "items": ring}},
    }
    schemas: dict[str, Any] = {}
    for name, coords in kinds.items():
        schemas[f"{name}GeoJSON"] = {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {"type": {"type": "string", "enum": [name]}, "coordinates": coords},
        }
    schemas["GeometryCollectionGeoJSON"] = {
        "type": "object",
        "required": ["type", "geometries"],
        "properties": {
            "type": {"type": "string", "enum": ["GeometryCollection"]},
            "geometries": {"type": "array", "items": _ref("GeometryGeoJSON")},
        },
    }
    schemas["GeometryGeoJSON"] = {
        "oneOf": [_ref(f"{n}GeoJSON") for n in (*kinds, "GeometryCollection")]
    }
    return schemas


def _link_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["href", "rel"],
        "properties": {
            "href": {"type": "string"}, "rel": {"type": "string"},
            "type": {"type": "string"}, "title": {"type": "string"},
        },
    }


def _layer_schemas(layer: Layer) -> dict[str, Any]:
    name = _schema_name(layer)
    props = {}
    for prop in layer.output_properties:
        schema = property_schema(prop)
        schema["nullable"] = True
        props[prop.name] = schema
    geometry = {"$ref": GEOMETRY_SCHEMA_REF[layer.geometry_type]}
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "geometry": geometry,
            "properties": {"type": "object", "properties": props, "additionalProperties": False},
            "links": {"type": "array", "items": _ref("Link")},
        },
    }
    collection = {
        "type": "object",
        "required": ["type", "features"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": _ref(f"{name}Feature")},
            "links": {"type": "array", "items": _ref("Link")},
            "numberMatched": {"type": "integer", "minimum": 0,
                              "description": "Exact up to the counting limit; above it left out, "
                                             "or an estimate (numberMatchedEstimated)"},
            "numberMatchedEstimated": {"type": "boolean"},
            "numberReturned": {"type": "integer", "minimum": 0},
        },
    }
    return {f"{name}Properties": {"type": "object", "properties": props},
            f"{name}Feature": feature, f"{name}FeatureCollection": collection}


def _schema_name(layer: Layer) -> str:
    return "".join(part.capitalize() for part in layer.id.split("_"))


def _errors(*codes: int) -> dict[str, Any]:
    texts = {400: "Invalid parameter", 404: "Not found", 406: "Not acceptable",
             500: "Server error", 503: "Database unavailable"}
    return {
        str(code): {"description": texts[code],
                    "content": {"application/json": {"schema": _ref("Exception")}}}
        for code in codes
    }


def _param(name: str, description: str, schema: dict[str, Any], *, required: bool = False,
           explode: bool | None = None) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "required": required,
                             "description": description, "schema": schema}
    if explode is not None:
        param["style"] = "form"
        param["explode"] = explode
    return param


def _format_param() -> dict[str, Any]:
    return _param("f", "Output format", {"type": "string", "enum": ["json", "html"]})


def _items_params(layer: Layer, settings: Settings) -> list[dict[str, Any]]:
    crs = {"type": "string", "enum": crs_list()}
    public = [p.name for p in layer.public_properties]
    sortable = [p.name for p in layer.public_properties if p.sortable] + ["id"]
    params = [
        _param("bbox", "Only features that intersect this box: minx,miny,maxx,maxy in bbox-crs.",
               {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
               explode=False),
        _param("bbox-crs", "CRS of bbox (default CRS84)", crs),
        _param("crs", "CRS of the returned geometries (default CRS84)", crs),
        _param("limit", "Items per page",
               {"type": "integer", "minimum": 1, "maximum": settings.max_limit,
                "default": settings.default_limit}),
        _param("offset", "Items to skip. Deep pages are cheaper with the cursor of the next link.",
               {"type": "integer", "minimum": 0, "maximum": 10_000_000}),
        _param("cursor", "Opaque position after the previous page (keyset paging); taken from a "
               "next link, valid with the same query. Not together with offset.",
               {"type": "string"}),
        _param("sortby", f"Sort keys, '-' for descending. Sortable: {', '.join(sortable)}",
               {"type": "string"}),
        _param("properties", f"Properties to return, comma separated: {', '.join(public)}",
               {"type": "string"}),
        _param("filter", "CQL2 filter", {"type": "string"}),
        _param("filter-lang", "Filter language",
               {"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        _param("filter-crs", "CRS of geometries in the filter", crs),
        _param("precision", "Decimal places of coordinates (default: 6 in degrees, about 0.1 m; "
               "with zoom: what that zoom can show)", {"type": "integer", "minimum": 0, "maximum": 15}),
        _param("simplify", "Simplify lines and polygons (ST_SimplifyPreserveTopology) with this "
               "tolerance in metres (approximate: applied in degrees of latitude)",
               {"type": "number", "minimum": 0, "maximum": 100000}),
        _param("zoom", "Web map zoom the geometries are shown at: simplify to half a pixel and "
               "round coordinates to a tenth of a pixel", {"type": "integer", "minimum": 0,
                                                            "maximum": 24}),
        _format_param(),
    ]
    if layer.temporal:
        params.append(_param("datetime", "Instant or interval (RFC 3339, '..' open)",
                             {"type": "string"}))
    for prop in layer.public_properties:
        if not prop.filterable:
            continue
        schema = property_schema(prop)
        schema.pop("title", None)
        if prop.is_array:
            params.append(_param(prop.name, f"Any of these values ({prop.label('en')})",
                                 schema, explode=False))
        else:
            params.append(_param(prop.name, f"Equals ({prop.label('en')})", schema))
    return params


def _layer_paths(layer: Layer, settings: Settings) -> dict[str, Any]:
    name = _schema_name(layer)
    base = f"/collections/{layer.id}"
    tag = layer.title.de
    return {
        base: {"get": {
            "tags": [tag], "operationId": f"describe_{layer.id}",
            "summary": f"Metadata of {layer.title.en}",
            "parameters": [_format_param()],
            "responses": {"200": {"description": "Collection",
                                  "content": {"application/json": {"schema": _ref("Collection")},
                                              "text/html": {"schema": {"type": "string"}}}},
                          **_errors(400)},
        }},
        f"{base}/queryables": {"get": {
            "tags": [tag], "operationId": f"queryables_{layer.id}",
            "summary": f"Queryable properties of {layer.title.en}",
            "responses": {"200": {"description": "JSON Schema",
                                  "content": {"application/schema+json": {"schema": {"type": "object"}}}}},
        }},
        f"{base}/items": {"get": {
            "tags": [tag], "operationId": f"items_{layer.id}",
            "summary": f"Features of {layer.title.en}",
            "parameters": _items_params(layer, settings),
            "responses": {
                "200": {"description": "Features", "headers": {"Content-Crs": {"schema": {"type": "string"}}},
                        "content": {GEOJSON: {"schema": _ref(f"{name}FeatureCollection")},
                                    "text/html": {"schema": {"type": "string"}}}},
                "304": {"description": "Not modified"},
                **_errors(400, 503),
            },
        }},
        f"{base}/items/{{featureId}}": {"get": {
            "tags": [tag], "operationId": f"item_{layer.id}",
            "summary": f"One feature of {layer.title.en}",
            "parameters": [
                {"name": "featureId", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}},
                _param("crs", "CRS of the geometry", {"type": "string", "enum": crs_list()}),
                _format_param(),
            ],
            "responses": {
                "200": {"description": "Feature",
                        "content": {GEOJSON: {"schema": _ref(f"{name}Feature")},
                                    "text/html": {"schema": {"type": "string"}}}},
                "304": {"description": "Not modified"},
                **_errors(400, 404, 503),
            },
        }},
    }


def _nearby_path() -> dict[str, Any]:
    text_list = {"type": "array", "items": {"type": "string"}}
    return {"/nearby": {"get": {
        "tags": ["In meiner Nähe"], "operationId": "nearby",
        "summary": "Nearest meeting places and offers, by straight-line distance in metres",
        "parameters": [
            _param("lon", "Longitude (WGS 84)", {"type": "number", "minimum": -180, "maximum": 180},
                   required=True),
            _param("lat", "Latitude (WGS 84)", {"type": "number", "minimum": -90, "maximum": 90},
                   required=True),
            _param("radius", "Search radius in metres", {"type": "number", "minimum": 1,
                                                          "maximum": 200000}),
            _param("limit", "Number of results", {"type": "integer", "minimum": 1, "maximum": 100}),
            _param("layers", "Layers to search",
                   {"type": "array", "items": {"type": "string", "enum": ["meeting_places", "offers"]}},
                   explode=False),
            _param("category", "Offer categories", text_list, explode=False),
            _param("target_group", "Target groups", text_list, explode=False),
            _param("language", "Languages spoken (ISO 639-1)", text_list, explode=False),
            _param("kind", "Kinds of meeting place", text_list, explode=False),
            _param("wheelchair", "Wheelchair accessible only", {"type": "boolean"}),
            _param("free", "Free of charge only", {"type": "boolean"}),
            _param("open_at", "Open at this time (RFC 3339) or 'now'", {"type": "string"}),
            _param("areas", "Also offers without a place that cover the position's area",
                   {"type": "boolean"}),
            _param("day", "Only offers on this day (and places hosting one)",
                   {"type": "string", "format": "date"}),
        ],
        "responses": {
            "200": {"description": "Features ordered by distance, each with distance_m",
                    "content": {GEOJSON: {"schema": _ref("NearbyCollection")}}},
            **_errors(400, 503),
        },
    }}}


def _tile_paths(layer: Layer) -> dict[str, Any]:
    """OGC API – Tiles for one layer: its tilesets, the WebMercatorQuad tileset and the tiles."""
    base = f"/collections/{layer.id}/tiles"
    tag = layer.title.de
    json_doc = {"application/json": {"schema": {"type": "object"}}}
    cache = {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}}
    maxzoom = layer.tiles.max_zoom
    coords = [
        {"name": "z", "in": "path", "required": True,
         "description": f"Zoom level ({layer.tiles.min_zoom} to {maxzoom} for this layer)",
         "schema": {"type": "integer", "minimum": 0, "maximum": 24}},
        {"name": "x", "in": "path", "required": True, "description": "x (column), from the west",
         "schema": {"type": "integer", "minimum": 0}},
        {"name": "y", "in": "path", "required": True, "description": "y (row), from the north",
         "schema": {"type": "integer", "minimum": 0}},
    ]
    return {
        base: {"get": {
            "tags": [tag], "operationId": f"tilesets_{layer.id}",
            "summary": f"Vector tilesets of {layer.title.en}",
            "responses": {"200": {"description": "Tilesets", "content": json_doc}},
        }},
        f"{base}/WebMercatorQuad": {"get": {
            "tags": [tag], "operationId": f"tileset_{layer.id}",
            "summary": f"Tileset metadata of {layer.title.en} (also TileJSON 3.0)",
            "responses": {"200": {"description": "Tileset", "content": json_doc}, **_errors(503)},
        }},
        # z/x/y as in TileJSON and tipg (the standard's template names them tileMatrix/tileCol/tileRow).
        f"{base}/WebMercatorQuad/{{z}}/{{x}}/{{y}}": {"get": {
            "tags": [tag], "operationId": f"tile_{layer.id}",
            "summary": f"One Mapbox Vector Tile of {layer.title.en} (z/x/y); at most "
                       "tile_max_features features, lowest ids first",
            "parameters": coords,
            "responses": {
                "200": {"description": "Vector tile (empty when no feature lies in it)",
                        "headers": cache,
                        "content": {"application/vnd.mapbox-vector-tile":
                                    {"schema": {"type": "string", "format": "binary"}}}},
                "304": {"description": "Not modified"},
                **_errors(400, 404, 503),
            },
        }},
    }


def _tile_matrix_set_paths() -> dict[str, Any]:
    json_doc = {"application/json": {"schema": {"type": "object"}}}
    return {
        "/tileMatrixSets": {"get": {
            "tags": ["Dienst"], "operationId": "tile_matrix_sets", "summary": "Tile matrix sets",
            "responses": {"200": {"description": "Tile matrix sets", "content": json_doc}},
        }},
        "/tileMatrixSets/{tileMatrixSetId}": {"get": {
            "tags": ["Dienst"], "operationId": "tile_matrix_set",
            "summary": "One tile matrix set (OGC TMS 2.0 JSON)",
            "parameters": [{"name": "tileMatrixSetId", "in": "path", "required": True,
                            "schema": {"type": "string", "enum": ["WebMercatorQuad"]}}],
            "responses": {"200": {"description": "Tile matrix set", "content": json_doc},
                          **_errors(404)},
        }},
    }


def build_openapi(registry: Registry, settings: Settings) -> dict[str, Any]:
    """The whole OpenAPI document (built once per app and cached by FastAPI)."""
    schemas: dict[str, Any] = {
        "Link": _link_schema(),
        "Exception": {
            "type": "object", "required": ["code"],
            "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                           "detail": {"type": "string"}, "status": {"type": "integer"}},
        },
        "Collection": {
            "type": "object", "required": ["id", "links"],
            "properties": {"id": {"type": "string"}, "title": {"type": "string"},
                           "links": {"type": "array", "items": _ref("Link")},
                           "extent": {"type": "object"}, "crs": {"type": "array",
                                                                 "items": {"type": "string"}}},
        },
        "NearbyCollection": {
            "type": "object", "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "numberReturned": {"type": "integer"},
                "features": {"type": "array", "items": {
                    "type": "object", "required": ["type", "id", "geometry", "properties"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "id": {"type": "string"},
                        "geometry": _ref("GeometryGeoJSON"),
                        "properties": {"type": "object", "required": ["layer", "distance_m"],
                                       "properties": {"layer": {"type": "string"},
                                                      "distance_m": {"type": "number", "minimum": 0}}},
                    },
                }},
            },
        },
        **_geometry_schemas(),
    }
    json_doc = {"application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}}}
    paths: dict[str, Any] = {
        "/": {"get": {"tags": ["Dienst"], "operationId": "landing", "summary": "Landing page",
                      "parameters": [_format_param()],
                      "responses": {"200": {"description": "Links", "content": json_doc}, **_errors(400)}}},
        "/conformance": {"get": {"tags": ["Dienst"], "operationId": "conformance",
                                 "summary": "Conformance classes", "parameters": [_format_param()],
                                 "responses": {"200": {"description": "Classes", "content": json_doc},
                                               **_errors(400)}}},
        "/collections": {"get": {"tags": ["Dienst"], "operationId": "collections",
                                 "summary": "All layers", "parameters": [_format_param()],
                                 "responses": {"200": {"description": "Collections", "content": json_doc},
                                               **_errors(400, 503)}}},
        "/healthz": {"get": {"tags": ["Betrieb"], "operationId": "healthz", "summary": "Health",
                             "responses": {"200": {"description": "Alive",
                                                   "content": {"application/json": {"schema": {"type": "object"}}}},
                                           **_errors(503)}}},
        "/layers": {"get": {"tags": ["Dienst"], "operationId": "layers", "summary": "Layer registry",
                            "responses": {"200": {"description": "Layers",
                                                  "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        **_nearby_path(),
        **_tile_matrix_set_paths(),
    }
    for layer in registry:
        schemas.update(_layer_schemas(layer))
        paths.update(_layer_paths(layer, settings))
        schemas.update(write_schemas(layer, _schema_name(layer)))
        add_write_operations(paths, layer, _schema_name(layer))
        paths.update(_tile_paths(layer))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Quartierskarte",
            "version": __version__,
            "description": "OGC API – Features über Treffpunkte, Angebote, Projekte und Quartiere "
                           "in Niedersachsen.",
            "license": {"name": "dl-de/by-2-0 (data)",
                        "url": "https://www.govdata.de/dl-de/by-2-0"},
        },
        "paths": copy.deepcopy(paths),
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }
