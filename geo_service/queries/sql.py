"""A small SQL builder: identifiers from the registry only, every value a bound parameter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geo_service.layers import Layer, Property

#: How a property of a generic-table layer is read from its JSONB (for filters and sorting).
_JSON_CASTS = {
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamptz",
}


def quote_ident(name: str) -> str:
    """Quote an identifier. Names come from the validated registry, never from a request."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Params:
    """Collects bound values and hands out their placeholders."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any, cast: str | None = None) -> str:
        """A placeholder for ``value``; ``cast`` (an SQL type, from code) types it explicitly."""
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"CAST(:{name} AS {cast})" if cast else f":{name}"


#: Request values of these property types are bound with their widest SQL type, so a value
#: that fits the type (a bigint, any float8) never overflows a narrower column (``population``
#: is an int4): PostgreSQL compares int4 with int8 using the column's index.
_LITERAL_CASTS = {"integer": "bigint", "number": "double precision"}


def bind_value(params: Params, prop: Property, value: Any) -> str:
    """A placeholder for a request value compared with ``prop`` (see ``queries.values``)."""
    return params.add(value, _LITERAL_CASTS.get(prop.type) if value is not None else None)


def table_of(layer: Layer) -> str:
    return quote_ident(layer.source_table)


def layer_scope(layer: Layer, params: Params, alias: str = "t") -> str | None:
    """The condition that restricts a shared table to this layer's rows (generic layers)."""
    if layer.generic:
        return f"{alias}.layer = {params.add(layer.id)}"
    return None


def value_expr(layer: Layer, prop: Property, alias: str = "t") -> str:
    """The SQL expression of a property, typed, for WHERE and ORDER BY."""
    if not layer.generic:
        return f"{alias}.{quote_ident(prop.db_column)}"
    key = prop.name.replace("'", "''")
    if prop.is_array:
        return f"ARRAY(SELECT jsonb_array_elements_text({alias}.properties->'{key}'))"
    cast = _JSON_CASTS.get(prop.type)
    raw = f"({alias}.properties->>'{key}')"
    return f"{raw}::{cast}" if cast else raw


def json_expr(layer: Layer, prop: Property, alias: str = "t") -> str:
    """The SQL expression of a property as it appears in GeoJSON output.

    Personal data (a contact person's name, phone, e-mail) is null unless a consent to publish
    it is recorded for the feature.
    """
    expr = (f"{alias}.properties->'{prop.name}'" if layer.generic
            else f"{alias}.{quote_ident(prop.db_column)}")
    if prop.personal:
        # CASE tests in order: an empty field (the usual case) never runs the consent look-up.
        return f"CASE WHEN {expr} IS NULL THEN NULL WHEN {consent_exists(layer, alias)} THEN {expr} END"
    return expr


def consent_exists(layer: Layer, alias: str = "t") -> str:
    # The layer id is a validated snake_case identifier from the registry, never request text.
    return (
        "EXISTS (SELECT 1 FROM consents c WHERE c.layer = '" + layer.id + "' "
        f"AND c.feature_id = {alias}.id AND c.revoked_at IS NULL)"
    )


def properties_object(layer: Layer, props: list[Property], alias: str = "t",
                      extra: list[tuple[str, str]] | None = None) -> str:
    """A JSON object of the chosen properties, in the layer's order.

    ``json_build_object`` keeps that order but takes at most 100 arguments; longer lists are
    built as ``jsonb`` chunks and joined.
    """
    pairs = [f"'{name}', {expr}" for name, expr in extra or []]
    pairs += [f"'{p.name}', {json_expr(layer, p, alias)}" for p in props]
    if not pairs:
        return "'{}'::json"
    if len(pairs) <= 50:
        return f"json_build_object({', '.join(pairs)})"
    chunks = [f"jsonb_build_object({', '.join(pairs[i : i + 50])})" for i in range(0, len(pairs), 50)]
    return "(" + " || ".join(chunks) + ")::json"


def where_clause(conditions: list[str]) -> str:
    return ("WHERE " + " AND ".join(f"({c})" for c in conditions)) if conditions else ""
