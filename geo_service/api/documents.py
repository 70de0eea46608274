"""The JSON documents of OGC API – Features: landing page, conformance, collections, queryables."""

from __future__ import annotations

from typing import Any

from geo_service.layers import Layer, Property, Registry
from geo_service.queries.crs import CRS84_URI, crs_list
from geo_service.queries.metadata import Extent

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    # OGC API – Tiles and the tile matrix set standard (routes/tiles.py).
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
]

#: JSON Schema (OpenAPI 3.0 flavour) of each property type.
TYPE_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "text": {"type": "string"},
    "phone": {"type": "string"},
    "opening_hours": {"type": "string"},
    "email": {"type": "string", "format": "email"},
    "url": {"type": "string", "format": "uri"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "string[]": {"type": "array", "items": {"type": "string"}},
}

GEOMETRY_SCHEMA_REF = {
    "Point": "#/components/schemas/PointGeoJSON",
    "MultiPoint": "#/components/schemas/MultiPointGeoJSON",
    "LineString": "#/components/schemas/LineStringGeoJSON",
    "MultiLineString": "#/components/schemas/MultiLineStringGeoJSON",
    "Polygon": "#/components/schemas/PolygonGeoJSON",
    "MultiPolygon": "#/components/schemas/MultiPolygonGeoJSON",
    "Geometry": "#/components/schemas/GeometryGeoJSON",
}


def property_schema(prop: Property, lang: str = "de") -> dict[str, Any]:
    schema = dict(TYPE_SCHEMAS[prop.type])
    if prop.enum:
        if prop.is_array:
            schema["items"] = {"type": "string", "enum": prop.enum}
        else:
            schema["enum"] = prop.enum
    if prop.max_length and schema.get("type") == "string":
        schema["maxLength"] = prop.max_length
    schema["title"] = prop.label(lang)
    return schema


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    data = {"href": href, "rel": rel, "type": type_}
    if title:
        data["title"] = title
    return data


def landing(base: str, lang: str) -> dict[str, Any]:
    de = lang == "de"
    return {
        "title": "Quartierskarte",
        "description": (
            "Treffpunkte, Angebote und Projekte der Quartiersarbeit in Niedersachsen."
            if de else "Meeting places, offers and projects of neighbourhood work in Lower Saxony."
        ),
        "links": [
            link(f"{base}/", "self", "application/json", "Diese Seite" if de else "This document"),
            link(f"{base}/?f=html", "alternate", "text/html", "HTML"),
            link(f"{base}/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0",
                 "OpenAPI"),
            link(f"{base}/api.html", "service-doc", "text/html", "API-Dokumentation"),
            link(f"{base}/conformance", "conformance", "application/json", "Konformität"),
            link(f"{base}/collections", "data", "application/json",
                 "Sammlungen" if de else "Collections"),
            link(f"{base}/tileMatrixSets", "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                 "application/json", "Kachelschemata" if de else "Tiling schemes"),
            link(f"{base}/nearby", "nearby", "application/geo+json",
                 "In meiner Nähe" if de else "Near me"),
            link(f"{base}/karte", "map", "text/html", "Karte" if de else "Map"),
        ],
    }


def collection(layer: Layer, extent: Extent, base: str, lang: str) -> dict[str, Any]:
    items = f"{base}/collections/{layer.id}/items"
    doc: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title.get(lang),
        "description": layer.description.get(lang) if layer.description else None,
        "titles": {"de": layer.title.de, "en": layer.title.en},
        "keywords": layer.keywords,
        "itemType": "feature",
        "license": layer.licence,
        "attribution": layer.attribution,
        "crs": crs_list(),
        "storageCrs": CRS84_URI,
        "links": [
            link(f"{base}/collections/{layer.id}", "self", "application/json", layer.title.get(lang)),
            link(f"{base}/collections/{layer.id}?f=html", "alternate", "text/html", "HTML"),
            link(items, "items", "application/geo+json", "GeoJSON"),
            link(f"{items}?f=html", "items", "text/html", "HTML"),
            link(f"{base}/collections/{layer.id}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                 "application/schema+json", "Queryables"),
            link(f"{base}/collections/{layer.id}/sortables", "http://www.opengis.net/def/rel/ogc/1.0/sortables",
                 "application/schema+json", "Sortables"),
            link(f"{base}/collections/{layer.id}/tiles",
                 "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "application/json",
                 "Vektorkacheln" if lang == "de" else "Vector tiles"),
        ],
        "extent": {},
    }
    if extent.bbox:
        doc["extent"]["spatial"] = {"bbox": [list(extent.bbox)], "crs": CRS84_URI}
    if layer.temporal:
        interval = list(extent.interval) if extent.interval else [None, None]
        doc["extent"]["temporal"] = {
            "interval": [interval], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
        }
    return doc


def collections(registry: Registry, docs: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {
        "links": [
            link(f"{base}/collections", "self", "application/json", "Sammlungen"),
            link(f"{base}/collections?f=html", "alternate", "text/html", "HTML"),
        ],
        "crs": crs_list(),
        "collections": docs,
    }


def queryables(layer: Layer, base: str, lang: str, *, sortables: bool = False) -> dict[str, Any]:
    props = [p for p in layer.public_properties if (p.sortable or not sortables)]
    properties: dict[str, Any] = {p.name: property_schema(p, lang) for p in props}
    if not sortables:
        properties["geometry"] = {
            "$ref": f"https://geojson.org/schema/{layer.geometry_type}.json"
            if layer.geometry_type != "Geometry" else "https://geojson.org/schema/Geometry.json",
            "title": "Geometrie" if lang == "de" else "Geometry",
        }
    else:
        properties["id"] = {"type": "integer", "title": "ID"}
    kind = "sortables" if sortables else "queryables"
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{base}/collections/{layer.id}/{kind}",
        "type": "object",
        "title": layer.title.get(lang),
        "properties": properties,
        "additionalProperties": False,
    }
