"""CQL2 filters (OGC API – Features Part 3): parsed by ``cql2``, compiled to bound SQL here."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import cql2

from geo_service.errors import InvalidFilter
from geo_service.layers import Layer, Property
from geo_service.queries.crs import CRS
from geo_service.queries.sql import Params, value_expr

GEOMETRY_NAMES = ("geometry", "geom")
_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = {
    "s_intersects": "ST_Intersects", "s_within": "ST_Within", "s_contains": "ST_Contains",
    "s_disjoint": "ST_Disjoint", "s_equals": "ST_Equals", "s_touches": "ST_Touches",
    "s_overlaps": "ST_Overlaps", "s_crosses": "ST_Crosses",
}
_ARRAY = {"a_contains": "@>", "a_containedby": "<@", "a_overlaps": "&&", "a_equals": "="}
_MAX_DEPTH = 30


def parse_filter(text: str, lang: str | None) -> dict[str, Any]:
    """Parse CQL2 text or JSON into CQL2 JSON, with a readable error for a person."""
    lang = (lang or "cql2-text").lower()
    try:
        if lang == "cql2-text":
            expr = cql2.parse_text(text)
        elif lang == "cql2-json":
            expr = cql2.parse_json(text)
        else:
            raise InvalidFilter(f"filter-lang '{lang}' is not supported; use cql2-text or cql2-json.")
        result = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise InvalidFilter(f"The filter is not valid CQL2 ({lang}): {' '.join(first)[:300]}") from exc
    except BaseException as exc:  # the Rust parser panics on a few inputs
        if isinstance(exc, (KeyboardInterrupt, SystemExit, InvalidFilter)):
            raise
        raise InvalidFilter(f"The filter is not valid CQL2 ({lang}).") from exc
    if not isinstance(result, dict):
        raise InvalidFilter("The filter must be a boolean expression.")
    return result


class FilterCompiler:
    """Turns CQL2 JSON into an SQL condition over one layer's columns."""

    def __init__(self, layer: Layer, params: Params, filter_crs: CRS, alias: str = "t"):
        self.layer = layer
        self.params = params
        self.crs = filter_crs
        self.alias = alias
        self.queryable = {p.name: p for p in layer.public_properties}

    def compile(self, node: Any) -> str:
        return self._bool(node, 0)

    # -- nodes ------------------------------------------------------------
    def _bool(self, node: Any, depth: int) -> str:
        if depth > _MAX_DEPTH:
            raise InvalidFilter("The filter is nested too deeply.")
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise InvalidFilter("The filter must be a boolean expression.")
        op = str(node["op"]).lower()
        args = node.get("args") or []
        if op in ("and", "or"):
            return f" {op.upper()} ".join(f"({self._bool(a, depth + 1)})" for a in args)
        if op == "not":
            return f"NOT ({self._bool(args[0], depth + 1)})"
        if op in _COMPARE:
            return self._compare(op, args)
        if op == "like":
            prop = self._property(args[0])
            return f"{value_expr(self.layer, prop, self.alias)}::text LIKE {self.params.add(self._str(args[1]))}"
        if op == "between":
            prop = self._property(args[0])
            low, high = (self._literal(prop, a) for a in args[1:3])
            expr = value_expr(self.layer, prop, self.alias)
            return f"{expr} BETWEEN {low} AND {high}"
        if op == "in":
            prop = self._property(args[0])
            if not isinstance(args[1], list):
                raise InvalidFilter("IN needs a list of values.")
            values = ", ".join(self._literal(prop, v) for v in args[1]) or "NULL"
            return f"{value_expr(self.layer, prop, self.alias)} IN ({values})"
        if op == "isnull":
            if self._is_geometry(args[0]):
                return f"{self.alias}.geom IS NULL"
            prop = self._property(args[0])
            return f"{value_expr(self.layer, prop, self.alias)} IS NULL"
        if op in _SPATIAL:
            left, right = (self._geometry(a) for a in args[:2])
            return f"{_SPATIAL[op]}({left}, {right})"
        if op in _ARRAY:
            prop = self._property(args[0])
            if not prop.is_array or not isinstance(args[1], list):
                raise InvalidFilter(f"{op.upper()} compares a list property with a list of values.")
            values = [self._str(v) for v in args[1]]
            return f"{value_expr(self.layer, prop, self.alias)} {_ARRAY[op]} {self.params.add(values, 'text[]')}"
        if op.startswith("t_"):
            return self._temporal(op, args)
        raise InvalidFilter(f"The operator or function '{node['op']}' is not supported.")

    def _compare(self, op: str, args: list[Any]) -> str:
        left, right = args[0], args[1]
        if not self._is_property(left) and self._is_property(right):
            left, right = right, left
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        if self._is_geometry(left) or isinstance(left, dict) and "bbox" in left:
            raise InvalidFilter("Compare geometries with S_EQUALS or S_INTERSECTS, not with =.")
        if not self._is_property(left):
            # literal = literal: valid CQL2, evaluated by PostgreSQL with bound values.
            return f"{self.params.add(self._plain(left))} {_COMPARE[op]} {self.params.add(self._plain(right))}"
        prop = self._property(left)
        expr = value_expr(self.layer, prop, self.alias)
        if prop.is_array:
            raise InvalidFilter(f"'{prop.name}' is a list: use A_CONTAINS or A_OVERLAPS.")
        return f"{expr} {_COMPARE[op]} {self._literal(prop, right)}"

    def _temporal(self, op: str, args: list[Any]) -> str:
        prop = self._property(args[0])
        if prop.type not in ("date", "datetime"):
            raise InvalidFilter(f"'{prop.name}' is not a date or time.")
        expr = value_expr(self.layer, prop, self.alias)
        value = args[1]
        ends = value["interval"] if isinstance(value, dict) and "interval" in value else [value, value]
        if len(ends) != 2:
            raise InvalidFilter("An INTERVAL has a start and an end.")
        start, end = (None if v in ("..", None) else self._coerce(prop, v) for v in ends)
        low = self.params.add(start) if start is not None else None
        high = self.params.add(end) if end is not None else None
        if op in ("t_intersects", "t_during", "t_equals"):
            parts = [f"{expr} >= {low}" if low else "", f"{expr} <= {high}" if high else ""]
            return " AND ".join(p for p in parts if p) or f"{expr} IS NOT NULL"
        if op == "t_before" and low:
            return f"{expr} < {low}"
        if op == "t_after" and high:
            return f"{expr} > {high}"
        raise InvalidFilter(f"The temporal operator '{op.upper()}' is not supported here.")

    # -- operands ---------------------------------------------------------
    @staticmethod
    def _is_property(node: Any) -> bool:
        return isinstance(node, dict) and "property" in node

    def _is_geometry(self, node: Any) -> bool:
        return self._is_property(node) and node["property"] in GEOMETRY_NAMES

    def _property(self, node: Any) -> Property:
        if not self._is_property(node):
            raise InvalidFilter("Expected a property name.")
        name = node["property"]
        prop = self.queryable.get(name)
        if prop is None:
            known = ", ".join(sorted(self.queryable))
            raise InvalidFilter(f"'{name}' is not a queryable of this layer. Queryables: {known}.")
        return prop

    def _geometry(self, node: Any) -> str:
        if self._is_geometry(node):
            return f"{self.alias}.geom"
        srid = self.crs.srid
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            if len(box) not in (4, 6):
                raise InvalidFilter("A BBOX needs 4 or 6 numbers.")
            x0, y0, x1, y1 = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
            if self.crs.lat_first:
                x0, y0, x1, y1 = y0, x0, y1, x1
            nums = ", ".join(self.params.add(float(v)) for v in (x0, y0, x1, y1))
            return f"ST_Transform(ST_MakeEnvelope({nums}, {srid}), 4326)"
        if isinstance(node, dict) and "type" in node and "coordinates" in node or (
            isinstance(node, dict) and node.get("type") == "GeometryCollection"
        ):
            geom = f"ST_SetSRID(ST_GeomFromGeoJSON({self.params.add(json.dumps(node), 'text')}), {srid})"
            if self.crs.lat_first:
                geom = f"ST_FlipCoordinates({geom})"
            return f"ST_Transform({geom}, 4326)"
        raise InvalidFilter("Spatial operators take the geometry property and a geometry literal.")

    def _literal(self, prop: Property, value: Any) -> str:
        return self.params.add(self._coerce(prop, value))

    def _coerce(self, prop: Property, value: Any) -> Any:
        if isinstance(value, dict) and "property" in value:
            raise InvalidFilter("Comparing two properties is not supported.")
        try:
            if prop.type in ("integer",):
                number = float(value)
                if not number.is_integer() or isinstance(value, bool):
                    raise ValueError
                return int(number)
            if prop.type == "number":
                if isinstance(value, bool):
                    raise ValueError
                return float(value)
            if prop.type == "boolean":
                if not isinstance(value, bool):
                    raise ValueError
                return value
            if prop.type in ("date", "datetime"):
                instant = self._instant(value)
                if instant is None:
                    raise ValueError
                if prop.type == "date" and isinstance(instant, dt.datetime):
                    return instant.date()
                if prop.type == "datetime" and not isinstance(instant, dt.datetime):
                    return dt.datetime.combine(instant, dt.time(), tzinfo=dt.timezone.utc)
                return instant
            return self._str(value)
        except (TypeError, ValueError, OverflowError):
            raise InvalidFilter(
                f"'{value}' is not a valid value for '{prop.name}' ({prop.type})."
            ) from None

    @staticmethod
    def _str(value: Any) -> str:
        if isinstance(value, (dict, list)):
            raise InvalidFilter("Expected a text value.")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    @staticmethod
    def _plain(value: Any) -> Any:
        if isinstance(value, (dict, list)):
            raise InvalidFilter("Expected a plain value.")
        return value

    @staticmethod
    def _instant(value: Any) -> dt.date | dt.datetime | None:
        if isinstance(value, dict):
            value = value.get("timestamp") or value.get("date")
        if value in (None, "..", ""):
            return None
        if not isinstance(value, str):
            raise InvalidFilter(f"'{value}' is not a date or timestamp.")
        try:
            if "T" in value or " " in value:
                stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
            return dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidFilter(f"'{value}' is not a date or timestamp (ISO 8601).") from None
