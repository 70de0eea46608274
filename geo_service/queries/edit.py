"""Writes to a layer: one feature at a time, with its history, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.auth import Principal
from geo_service.layers import Layer, Property
from geo_service.queries.sql import Params, layer_scope, quote_ident, table_of, where_clause


@dataclass
class StoredFeature:
    """A feature as an editor sees it: every property (personal ones too) and its version."""

    id: int
    properties: dict[str, Any]
    geometry: dict[str, Any]
    updated_at: dt.datetime
    #: Set by a write that named another contact person and so revoked the item's consent.
    consent_voided: bool = False

    @property
    def etag(self) -> str:
        return item_etag(self.id, self.updated_at)

    def as_history(self) -> dict[str, Any]:
        return {"properties": self.properties, "geometry": self.geometry}


def item_etag(feature_id: int, updated_at: dt.datetime) -> str:
    """A strong ETag per item version (the row's last change, to the microsecond)."""
    stamp = int(updated_at.timestamp() * 1_000_000)
    return f'"{feature_id}-{stamp:x}"'


def _all_properties(layer: Layer, alias: str = "t") -> str:
    if layer.generic:
        return f"{alias}.properties"
    pairs = ", ".join(f"'{p.name}', {alias}.{quote_ident(p.db_column)}" for p in layer.properties)
    return f"jsonb_build_object({pairs})"


async def load_feature(conn: AsyncConnection, layer: Layer, feature_id: int, *,
                       lock: bool = False) -> StoredFeature | None:
    params = Params()
    conditions = [f"t.id = {params.add(feature_id)}"]
    scope = layer_scope(layer, params)
    if scope:
        conditions.append(scope)
    sql = (
        f"SELECT t.id, {_all_properties(layer)} AS props, ST_AsGeoJSON(t.geom)::jsonb AS geometry, "
        f"t.updated_at FROM {table_of(layer)} t {where_clause(conditions)}"
        + (" FOR UPDATE" if lock else "")
    )
    row = (await conn.execute(text(sql), params.values)).one_or_none()
    if row is None:
        return None
    props = row.props if isinstance(row.props, dict) else json.loads(row.props)
    geometry = row.geometry if isinstance(row.geometry, dict) else json.loads(row.geometry)
    return StoredFeature(int(row.id), props, geometry, row.updated_at)


def plain(value: Any) -> Any:
    """Values from validation (numpy/pandas scalars) as plain Python for the driver."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    try:
        import pandas as pd

        if value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    return value


def _json_value(value: Any) -> Any:
    value = plain(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _writable(layer: Layer) -> list[Property]:
    return [p for p in layer.properties if not p.read_only]


def _geometry_param(params: Params, geometry: BaseGeometry | None) -> str:
    if geometry is None:
        return "NULL"
    return f"ST_SetSRID(ST_GeomFromWKB({params.add(shapely.to_wkb(geometry))}), 4326)"


def _values(layer: Layer, values: dict[str, Any], params: Params) -> dict[str, str]:
    """Column -> placeholder for every writable property (missing ones become NULL)."""
    columns: dict[str, str] = {}
    for prop in _writable(layer):
        value = plain(values.get(prop.name))
        cast = "text[]" if prop.is_array else None
        columns[quote_ident(prop.db_column)] = params.add(value, cast) if value is not None else "NULL"
    return columns


def _area_column(layer: Layer, geometry: BaseGeometry | None, params: Params) -> dict[str, str]:
    # An offer's own polygon is its area; points come from its meeting place.
    if layer.source_table != "offers":
        return {}
    if geometry is not None and geometry.geom_type in ("Polygon", "MultiPolygon"):
        multi = geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])
        return {"area": _geometry_param(params, multi)}
    return {"area": "NULL"}


async def insert_feature(conn: AsyncConnection, layer: Layer, values: dict[str, Any],
                         geometry: BaseGeometry | None, *, feature_id: int | None = None) -> int:
    """Insert one validated feature; ``feature_id`` re-creates a deleted one under its old id."""
    params = Params()
    if layer.generic:
        props = {k: _json_value(v) for k, v in values.items() if v is not None}
        columns = {"layer": params.add(layer.id), "properties": params.add(json.dumps(props), "jsonb"),
                   "geom": _geometry_param(params, geometry)}
    else:
        columns = {**_values(layer, values, params), **_area_column(layer, geometry, params),
                   "geom": _geometry_param(params, geometry)}
    if feature_id is not None:
        columns = {"id": params.add(feature_id), **columns}
    override = " OVERRIDING SYSTEM VALUE" if feature_id is not None else ""
    sql = (f"INSERT INTO {table_of(layer)} ({', '.join(columns)}){override} "
           f"VALUES ({', '.join(columns.values())}) RETURNING id")
    return int((await conn.execute(text(sql), params.values)).scalar_one())


async def update_feature(conn: AsyncConnection, layer: Layer, feature_id: int,
                         values: dict[str, Any], geometry: BaseGeometry | None) -> None:
    params = Params()
    if layer.generic:
        props = {k: _json_value(v) for k, v in values.items() if v is not None}
        columns = {"properties": params.add(json.dumps(props), "jsonb")}
    else:
        columns = {**_values(layer, values, params), **_area_column(layer, geometry, params)}
    if geometry is not None or layer.source_table != "offers":
        columns["geom"] = _geometry_param(params, geometry)
    assignments = ", ".join(f"{column} = {value}" for column, value in columns.items())
    sql = f"UPDATE {table_of(layer)} SET {assignments} WHERE id = {params.add(feature_id)}"
    await conn.execute(text(sql), params.values)


async def delete_feature(conn: AsyncConnection, layer: Layer, feature_id: int) -> None:
    params = Params()
    await conn.execute(text(f"DELETE FROM {table_of(layer)} WHERE id = {params.add(feature_id)}"),
                       params.values)


async def record_history(conn: AsyncConnection, layer: Layer, feature_id: int, *, action: str,
                         who: Principal | None, actor: str | None = None,
                         before: StoredFeature | None, after: StoredFeature | None) -> None:
    await conn.execute(
        text("INSERT INTO history (layer, feature_id, action, key_id, actor, before, after) "
             "VALUES (:layer, :id, :action, :key, :actor, CAST(:before AS jsonb), CAST(:after AS jsonb))"),
        {"layer": layer.id, "id": feature_id, "action": action,
         "key": who.key_id if who else None, "actor": actor or (who.actor if who else "system"),
         "before": json.dumps(before.as_history(), default=str) if before else None,
         "after": json.dumps(after.as_history(), default=str) if after else None},
    )


def _state_in_scope(layer: Layer, side: str, params: Params, *, districts: tuple[str, ...],
                    organisation: str | None) -> str:
    """Whether a history state (``h.before``/``h.after``) lies where a narrowed key may work:
    the same test as for writes (a quartier of its districts, its organisation as owner)."""
    conditions = [f"h.{side} IS NOT NULL"]
    if districts:
        conditions.append(
            "EXISTS (SELECT 1 FROM quartiers q WHERE q.district = ANY("
            f"{params.add(list(districts), 'text[]')}) AND ST_Intersects(q.geom, "
            f"ST_SetSRID(ST_GeomFromGeoJSON(h.{side}->>'geometry'), 4326)))")
    if organisation is not None:
        owner = layer.owner_property
        if owner is None:
            return "FALSE"
        conditions.append(f"h.{side}->'properties'->>{params.add(owner)} = {params.add(organisation)}")
    return " AND ".join(f"({c})" for c in conditions)


async def feature_history(conn: AsyncConnection, layer: Layer, feature_id: int, *,
                          districts: tuple[str, ...] = (), organisation: str | None = None,
                          consented_person: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every recorded version, oldest first, as a key bound to ``districts``/``organisation``
    may see it.

    A state (before or after) outside that scope is withheld (``null``, named in
    ``withheld``); a version whose states are all withheld does not say who made it either.
    Personal fields appear only in states that name ``consented_person`` (the person whose
    consent is valid now), never those of an earlier contact person.
    """
    params = Params()
    scope = {side: (_state_in_scope(layer, side, params, districts=districts,
                                    organisation=organisation)
                    if districts or organisation is not None else "TRUE")
             for side in ("before", "after")}
    rows = (await conn.execute(
        text("SELECT h.id, h.action, h.actor, h.at, h.before, h.after, "
             f"({scope['before']}) AS before_visible, ({scope['after']}) AS after_visible "
             f"FROM history h WHERE h.layer = {params.add(layer.id)} "
             f"AND h.feature_id = {params.add(feature_id)} ORDER BY h.id"),
        params.values,
    )).all()
    personal = [p.name for p in layer.personal_properties]
    versions = []
    for row in rows:
        entry: dict[str, Any] = {"id": row.id, "action": row.action, "actor": row.actor,
                                 "at": row.at.isoformat()}
        withheld = []
        for side in ("before", "after"):
            state = getattr(row, side)
            if isinstance(state, str):
                state = json.loads(state)
            if state is not None and not getattr(row, f"{side}_visible"):
                state = None
                withheld.append(side)
            if state and personal_values(layer, state.get("properties", {})) != consented_person:
                for name in personal:
                    state.get("properties", {}).pop(name, None)
            entry[side] = state
        if withheld:
            entry["withheld"] = withheld
            if all(entry[side] is None for side in ("before", "after")):
                entry["actor"] = None
        versions.append(entry)
    return versions


def personal_values(layer: Layer, properties: dict[str, Any]) -> dict[str, Any]:
    """The contact person an item names: its personal fields that hold a value."""
    return {p.name: properties[p.name] for p in layer.personal_properties
            if properties.get(p.name) not in (None, "", [])}


async def has_consent(conn: AsyncConnection, layer: Layer, feature_id: int) -> bool:
    """Whether a consent to publish the item's contact person is recorded and not revoked."""
    return bool((await conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM consents WHERE layer = :layer AND feature_id = :id "
             "AND revoked_at IS NULL)"), {"layer": layer.id, "id": feature_id},
    )).scalar_one())


async def last_state(conn: AsyncConnection, layer: Layer, feature_id: int) -> dict[str, Any] | None:
    """The item as history last recorded it (its state before deletion, for a deleted one)."""
    row = (await conn.execute(
        text("SELECT coalesce(after, before) AS state FROM history WHERE layer = :layer "
             "AND feature_id = :id AND coalesce(after, before) IS NOT NULL "
             "ORDER BY id DESC LIMIT 1"),
        {"layer": layer.id, "id": feature_id},
    )).one_or_none()
    if row is None:
        return None
    return row.state if isinstance(row.state, dict) else json.loads(row.state)


async def last_deleted(conn: AsyncConnection, layer: Layer, feature_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(
        text("SELECT before FROM history WHERE layer = :layer AND feature_id = :id "
             "AND action = 'delete' ORDER BY id DESC LIMIT 1"),
        {"layer": layer.id, "id": feature_id},
    )).one_or_none()
    if row is None:
        return None
    return row.before if isinstance(row.before, dict) else json.loads(row.before)


async def within_districts(conn: AsyncConnection, feature: StoredFeature, districts: tuple[str, ...]) -> bool:
    """Whether the feature lies in a quartier of one of these districts (Landkreise)."""
    return bool((await conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM quartiers q WHERE q.district = ANY(CAST(:d AS text[])) "
             "AND ST_Intersects(q.geom, ST_SetSRID(ST_GeomFromGeoJSON(CAST(:g AS text)), 4326)))"),
        {"d": list(districts), "g": json.dumps(feature.geometry)},
    )).scalar_one())


async def record_consent(conn: AsyncConnection, layer: Layer, feature_id: int, *, given_by: str,
                         given_at: dt.datetime, purpose: str, recorded_by: str) -> int:
    return int((await conn.execute(
        text("INSERT INTO consents (layer, feature_id, given_by, given_at, purpose, recorded_by) "
             "VALUES (:layer, :id, :by, :at, :purpose, :rec) RETURNING id"),
        {"layer": layer.id, "id": feature_id, "by": given_by, "at": given_at, "purpose": purpose,
         "rec": recorded_by},
    )).scalar_one())


async def revoke_consents(conn: AsyncConnection, layer: Layer, feature_id: int) -> int:
    result = await conn.execute(
        text("UPDATE consents SET revoked_at = now() WHERE layer = :layer AND feature_id = :id "
             "AND revoked_at IS NULL"),
        {"layer": layer.id, "id": feature_id},
    )
    return int(result.rowcount or 0)
