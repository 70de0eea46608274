"""The write operations in the OpenAPI document (OGC API – Features Part 4 style, Bearer keys)."""

from __future__ import annotations

from typing import Any

from geo_service.api.documents import GEOMETRY_SCHEMA_REF, property_schema
from geo_service.layers import Layer

SECURITY_SCHEMES = {"bearerKey": {"type": "http", "scheme": "bearer",
                                  "description": "API key from 'geo-service keys create'"}}
_SECURED = [{"bearerKey": []}]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {400: "Invalid data", 401: "No or unknown API key", 403: "Not granted",
             404: "Not found", 412: "Changed since read (stale If-Match)", 413: "Body too large",
             415: "Not JSON", 429: "Too many requests", 503: "Database unavailable"}
    return {str(c): {"description": texts[c],
                     "content": {"application/json": {"schema": _ref("Exception")}}} for c in codes}


def write_schemas(layer: Layer, name: str) -> dict[str, Any]:
    """Schemas of what an editor sends (a Feature) and gets back (the stored Feature)."""
    props: dict[str, Any] = {}
    for prop in layer.properties:
        schema = property_schema(prop)
        schema["nullable"] = True
        props[prop.name] = schema
    geometry = {**{"$ref": GEOMETRY_SCHEMA_REF[layer.geometry_type]}}
    required = [p.name for p in layer.properties if p.required]
    incoming = {
        "type": "object", "required": ["type", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {"allOf": [geometry], "nullable": True},
            "properties": {"type": "object", "required": required,
                           "properties": {p.name: props[p.name] for p in layer.properties
                                          if not p.read_only}},
        },
    }
    stored = {
        "type": "object", "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"oneOf": [_ref("GeometryGeoJSON")], "nullable": True},
            "properties": {"type": "object", "properties": props, "additionalProperties": False},
        },
    }
    patch = {"type": "object", "properties": {
        "geometry": {"allOf": [geometry], "nullable": True},
        "properties": {"type": "object", "properties": incoming["properties"]["properties"]["properties"]},
    }}
    return {f"{name}NewFeature": incoming, f"{name}StoredFeature": stored, f"{name}Patch": patch}


def add_write_operations(paths: dict[str, Any], layer: Layer, name: str) -> None:
    """POST on items; PUT, PATCH, DELETE on an item; history, restore and consent."""
    items = f"/collections/{layer.id}/items"
    item = f"{items}/{{featureId}}"
    tag = layer.title.de
    path_id = {"name": "featureId", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1}}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "description": "The ETag you read; a stale one gets 412", "schema": {"type": "string"}}
    stored = {"content": {"application/geo+json": {"schema": _ref(f"{name}StoredFeature")}},
              "headers": {"ETag": {"schema": {"type": "string"}}}}
    body = {"required": True, "content": {
        "application/geo+json": {"schema": _ref(f"{name}NewFeature")},
        "application/json": {"schema": _ref(f"{name}NewFeature")}}}
    paths[items]["post"] = {
        "tags": [tag], "operationId": f"create_{layer.id}", "security": _SECURED,
        "summary": f"Add a feature to {layer.title.en}", "requestBody": body,
        "responses": {"201": {"description": "Created", **stored},
                      **_errors(400, 401, 403, 413, 415, 429, 503)},
    }
    paths[item]["put"] = {
        "tags": [tag], "operationId": f"replace_{layer.id}", "security": _SECURED,
        "summary": "Replace a feature", "parameters": [path_id, if_match], "requestBody": body,
        "responses": {"200": {"description": "Replaced", **stored},
                      **_errors(400, 401, 403, 404, 412, 413, 415, 429, 503)},
    }
    paths[item]["patch"] = {
        "tags": [tag], "operationId": f"patch_{layer.id}", "security": _SECURED,
        "summary": "Change a feature (JSON merge patch)", "parameters": [path_id, if_match],
        "requestBody": {"required": True, "content": {
            "application/merge-patch+json": {"schema": _ref(f"{name}Patch")},
            "application/json": {"schema": _ref(f"{name}Patch")}}},
        "responses": {"200": {"description": "Changed", **stored},
                      **_errors(400, 401, 403, 404, 412, 413, 415, 429, 503)},
    }
    paths[item]["delete"] = {
        "tags": [tag], "operationId": f"delete_{layer.id}", "security": _SECURED,
        "summary": "Delete a feature (an admin can restore it)", "parameters": [path_id, if_match],
        "responses": {"204": {"description": "Deleted"},
                      **_errors(400, 401, 403, 404, 412, 429, 503)},
    }
    paths[f"{item}/history"] = {"get": {
        "tags": [tag], "operationId": f"history_{layer.id}", "security": _SECURED,
        "summary": "Every version of a feature (editors and admins)", "parameters": [path_id],
        "responses": {"200": {"description": "Versions", "content": {"application/json": {
            "schema": {"type": "object", "required": ["versions"],
                       "properties": {"versions": {"type": "array", "items": {"type": "object"}}}}}}},
            **_errors(400, 401, 403, 404, 429, 503)},
    }}
    paths[f"{item}/restore"] = {"post": {
        "tags": [tag], "operationId": f"restore_{layer.id}", "security": _SECURED,
        "summary": "Restore a deleted feature (admins)", "parameters": [path_id],
        "responses": {"201": {"description": "Restored", **stored},
                      **_errors(400, 401, 403, 404, 429, 503)},
    }}
