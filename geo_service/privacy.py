"""GDPR erasure: a person's data removed from an item and its whole history, and logged."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from geo_service.layers import Layer
from geo_service.queries.sql import quote_ident


@dataclass
class Erasure:
    layer: str
    feature_id: int
    fields: list[str]
    history_rows: int


def find_by_person(url: str, layer: Layer, name: str) -> list[int]:
    """Items of a layer whose personal fields name this person exactly."""
    personal = layer.personal_properties
    if not personal:
        return []
    with psycopg.connect(url) as conn:
        if layer.generic:
            clauses = " OR ".join(f"properties->>'{p.name}' = %(n)s" for p in personal)
            sql = f"SELECT id FROM features WHERE layer = %(l)s AND ({clauses})"
        else:
            clauses = " OR ".join(f"{quote_ident(p.db_column)} = %(n)s" for p in personal)
            sql = f"SELECT id FROM {quote_ident(layer.source_table)} WHERE {clauses}"
        return [r[0] for r in conn.execute(sql, {"n": name, "l": layer.id})]


def erase(url: str, layer: Layer, feature_id: int, *, actor: str) -> Erasure:
    """Set every personal field of the item to null, strip them from every history version,
    revoke consents, and record what was done (not the data) in the privacy log."""
    fields = [p.name for p in layer.personal_properties]
    if not fields:
        raise ValueError(f"The layer {layer.id} has no personal fields.")
    with psycopg.connect(url) as conn, conn.transaction():
        if layer.generic:
            conn.execute("UPDATE features SET properties = properties - %s::text[] "
                         "WHERE layer = %s AND id = %s", (fields, layer.id, feature_id))
        else:
            sets = ", ".join(f"{quote_ident(p.db_column)} = NULL" for p in layer.personal_properties)
            conn.execute(f"UPDATE {quote_ident(layer.source_table)} SET {sets} WHERE id = %s",
                         (feature_id,))
        paths = [f"{{properties,{name}}}" for name in fields]
        strip_before = "before"
        strip_after = "after"
        for path in paths:
            strip_before = f"({strip_before} #- '{path}')"
            strip_after = f"({strip_after} #- '{path}')"
        result = conn.execute(
            f"UPDATE history SET before = {strip_before}, after = {strip_after} "
            "WHERE layer = %s AND feature_id = %s", (layer.id, feature_id))
        touched = result.rowcount
        conn.execute("UPDATE consents SET revoked_at = now(), given_by = '[gelöscht]' "
                     "WHERE layer = %s AND feature_id = %s", (layer.id, feature_id))
        conn.execute("INSERT INTO history (layer, feature_id, action, actor) VALUES (%s, %s, 'erase', %s)",
                     (layer.id, feature_id, actor))
        conn.execute("INSERT INTO privacy_log (actor, layer, feature_id, fields, history_rows) "
                     "VALUES (%s, %s, %s, %s, %s)", (actor, layer.id, feature_id, fields, touched))
    return Erasure(layer.id, feature_id, fields, touched)
