"""The rows an export writes: a layer's public properties and geometry, cut by bbox and capped
in SQL (the spatial index answers, nothing outside the box leaves the database)."""

from __future__ import annotations

from typing import Any

from geo_service.layers import Layer
from geo_service.queries.sql import Params, layer_scope, quote_ident, table_of, where_clause

BBox = tuple[float, float, float, float]


def _conditions(layer: Layer, params: Params, bbox: BBox | None) -> list[str]:
    conditions = []
    scope = layer_scope(layer, params)
    if scope:
        conditions.append(scope)
    if bbox is not None:
        envelope = f"ST_MakeEnvelope({', '.join(params.add(float(v)) for v in bbox)}, 4326)"
        conditions.append(f"t.geom && {envelope} AND ST_Intersects(t.geom, {envelope})")
    return conditions


def export_rows(layer: Layer, *, bbox: BBox | None = None,
                limit: int | None = None) -> tuple[str, dict[str, Any]]:
    """``SELECT id, <public properties>, wkb`` in id order (the first ``limit`` features).

    Only ``Layer.public_properties`` are selected: personal data never leaves the database.
    Custom layers give their properties as one JSONB object (``props``).
    """
    params = Params()
    if layer.generic:
        columns = ["t.id", "t.properties AS props"]
    else:
        columns = ["t.id", *(f"t.{quote_ident(p.db_column)}" for p in layer.public_properties)]
    columns.append("ST_AsBinary(t.geom) AS wkb")
    sql = (f"SELECT {', '.join(columns)} FROM {table_of(layer)} t "
           f"{where_clause(_conditions(layer, params, bbox))} ORDER BY t.id")
    if limit is not None:
        sql += f" LIMIT {params.add(limit)}"
    return sql, params.values


def only_points(layer: Layer, *, bbox: BBox | None = None,
                limit: int | None = None) -> tuple[str, dict[str, Any]]:
    """Whether every exported geometry is a point (a CSV then gets coordinate columns)."""
    params = Params()
    inner = (f"SELECT t.geom FROM {table_of(layer)} t "
             f"{where_clause(_conditions(layer, params, bbox))} ORDER BY t.id")
    if limit is not None:
        inner += f" LIMIT {params.add(limit)}"
    sql = (f"SELECT count(*) > 0 AND bool_and(ST_GeometryType(s.geom) = 'ST_Point') "
           f"FROM ({inner}) s")
    return sql, params.values
