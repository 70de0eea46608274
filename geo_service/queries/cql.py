"""CQL2 filters (OGC API – Features Part 3): parsed by ``cql2``, compiled to bound SQL here.

The compiler walks CQL2 JSON from any source (text parsed by ``cql2``, or JSON a client wrote),
so it trusts no shape: every operator's arguments are counted and typed, every literal goes
through ``queries.values`` before it is bound, and anything else is an ``InvalidFilter``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely.geometry

from geo_service.errors import InvalidFilter
from geo_service.layers import Layer, Property
from geo_service.queries import values
from geo_service.queries.crs import CRS
from geo_service.queries.cql_parse import FilterLimits, parse_filter
from geo_service.queries.sql import Params, bind_value, value_expr

__all__ = ["FilterCompiler", "FilterLimits", "parse_filter"]

GEOMETRY_NAMES = ("geometry", "geom")
_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_MIRRORED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
_SPATIAL = {
    "s_intersects": "ST_Intersects", "s_within": "ST_Within", "s_contains": "ST_Contains",
    "s_disjoint": "ST_Disjoint", "s_equals": "ST_Equals", "s_touches": "ST_Touches",
    "s_overlaps": "ST_Overlaps", "s_crosses": "ST_Crosses",
}
_ARRAY = {"a_contains": "@>", "a_containedby": "<@", "a_overlaps": "&&", "a_equals": "="}
_MAX_DEPTH = 30
#: Operators and how many arguments each takes (lowest, highest).
_ARITY: dict[str, tuple[int, int]] = {
    "and": (1, 10_000), "or": (1, 10_000), "not": (1, 1), "like": (2, 2), "between": (3, 3),
    "in": (2, 2), "isnull": (1, 1),
    **{op: (2, 2) for op in _COMPARE}, **{op: (2, 2) for op in _SPATIAL},
    **{op: (2, 2) for op in _ARRAY},
}
_WHAT = "Filter"


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
            raise InvalidFilter(f"Der Filter ist zu tief verschachtelt (mehr als {_MAX_DEPTH} "
                                "Ebenen von AND, OR und NOT).")
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or not isinstance(node.get("op"), str):
            raise InvalidFilter("Der Filter muss eine Bedingung sein (wahr oder falsch), z. B. "
                                "kind = 'Stadtteilbüro'.")
        op = node["op"].lower()
        if op.startswith("t_"):
            return self._temporal(op, self._args(node, op, 2, 2))
        if op not in _ARITY:
            raise InvalidFilter(f"Der Operator oder die Funktion »{values.shown(node['op'], 40)}« "
                                "wird nicht unterstützt.")
        args = self._args(node, op, *_ARITY[op])
        if op in ("and", "or"):
            return f" {op.upper()} ".join(f"({self._bool(a, depth + 1)})" for a in args)
        if op == "not":
            return f"NOT ({self._bool(args[0], depth + 1)})"
        if op in _COMPARE:
            return self._compare(op, args)
        if op == "like":
            return self._like(args)
        if op == "between":
            prop = self._property(args[0])
            low, high = (self._literal(prop, a) for a in args[1:3])
            return f"{value_expr(self.layer, prop, self.alias)} BETWEEN {low} AND {high}"
        if op == "in":
            prop = self._property(args[0])
            if not isinstance(args[1], list):
                raise InvalidFilter("IN braucht eine Liste von Werten, z. B. kind IN ('Café', 'Treff').")
            listed = ", ".join(self._literal(prop, v) for v in args[1]) or "NULL"
            return f"{value_expr(self.layer, prop, self.alias)} IN ({listed})"
        if op == "isnull":
            if self._is_geometry(args[0]):
                return f"{self.alias}.geom IS NULL"
            prop = self._property(args[0])
            return f"{value_expr(self.layer, prop, self.alias)} IS NULL"
        if op in _SPATIAL:
            left, right = (self._geometry(a) for a in args)
            return f"{_SPATIAL[op]}({left}, {right})"
        prop = self._property(args[0])  # an array operator
        if not prop.is_array or not isinstance(args[1], list):
            raise InvalidFilter(f"{op.upper()} vergleicht eine Listen-Eigenschaft mit einer Liste "
                                "von Werten, z. B. A_CONTAINS(languages, ('de', 'tr')).")
        texts = [values.as_text(self._str(v), _WHAT) for v in args[1]]
        return (f"{value_expr(self.layer, prop, self.alias)} {_ARRAY[op]} "
                f"{self.params.add(texts, 'text[]')}")

    @staticmethod
    def _args(node: dict[str, Any], op: str, low: int, high: int) -> list[Any]:
        args = node.get("args")
        if not isinstance(args, list) or not low <= len(args) <= high:
            count = f"{low}" if low == high else f"mindestens {low}"
            noun = "Argument" if low == 1 else "Argumente"
            raise InvalidFilter(f"{op.upper()} braucht {count} {noun} (args).")
        return args

    def _compare(self, op: str, args: list[Any]) -> str:
        left, right = args
        if not self._is_property(left) and self._is_property(right):
            left, right = right, left
            op = _MIRRORED.get(op, op)
        if self._is_geometry(left) or isinstance(left, dict) and "bbox" in left:
            raise InvalidFilter("Geometrien vergleicht man mit S_EQUALS oder S_INTERSECTS, nicht mit =.")
        if not self._is_property(left):
            raise InvalidFilter(
                "Ein Vergleich braucht auf einer Seite eine Eigenschaft der Ebene, z. B. "
                "kind = 'Café'; zwei feste Werte (wie 1 = 1) lassen sich nicht vergleichen."
            )
        prop = self._property(left)
        if prop.is_array:
            raise InvalidFilter(f"»{prop.name}« ist eine Liste: verwenden Sie A_CONTAINS oder A_OVERLAPS.")
        return f"{value_expr(self.layer, prop, self.alias)} {_COMPARE[op]} {self._literal(prop, right)}"

    def _like(self, args: list[Any]) -> str:
        prop = self._property(args[0])
        pattern = values.as_text(self._str(args[1]), _WHAT)
        trailing = len(pattern) - len(pattern.rstrip("\\"))
        if trailing % 2:
            raise InvalidFilter(
                "Ein LIKE-Muster darf nicht mit einem einzelnen \\ enden: \\ maskiert das folgende "
                "Zeichen (\\% für ein Prozentzeichen, \\\\ für einen Backslash)."
            )
        return (f"{value_expr(self.layer, prop, self.alias)}::text LIKE "
                f"{self.params.add(pattern)} ESCAPE '\\'")

    def _temporal(self, op: str, args: list[Any]) -> str:
        prop = self._property(args[0])
        if prop.type not in ("date", "datetime"):
            raise InvalidFilter(f"»{prop.name}« ist kein Datum und kein Zeitpunkt.")
        expr = value_expr(self.layer, prop, self.alias)
        value = args[1]
        ends = value["interval"] if isinstance(value, dict) and "interval" in value else [value, value]
        if not isinstance(ends, list) or len(ends) != 2:
            raise InvalidFilter("Ein INTERVAL hat einen Anfang und ein Ende.")
        start, end = (None if v in ("..", None) else self._literal_value(prop, v) for v in ends)
        low = self.params.add(start) if start is not None else None
        high = self.params.add(end) if end is not None else None
        if op in ("t_intersects", "t_during", "t_equals"):
            parts = [f"{expr} >= {low}" if low else "", f"{expr} <= {high}" if high else ""]
            return " AND ".join(p for p in parts if p) or f"{expr} IS NOT NULL"
        if op == "t_before" and low:
            return f"{expr} < {low}"
        if op == "t_after" and high:
            return f"{expr} > {high}"
        raise InvalidFilter(f"Der Zeit-Operator »{op.upper()}« wird hier nicht unterstützt.")

    # -- operands ---------------------------------------------------------
    @staticmethod
    def _is_property(node: Any) -> bool:
        return isinstance(node, dict) and "property" in node

    def _is_geometry(self, node: Any) -> bool:
        return self._is_property(node) and node["property"] in GEOMETRY_NAMES

    def _property(self, node: Any) -> Property:
        if not self._is_property(node) or not isinstance(node["property"], str):
            raise InvalidFilter("Hier wird der Name einer Eigenschaft erwartet, z. B. kind.")
        name = node["property"]
        prop = self.queryable.get(name)
        if prop is None:
            known = ", ".join(sorted(self.queryable))
            raise InvalidFilter(f"»{values.shown(name, 60)}« ist keine abfragbare Eigenschaft "
                                f"dieser Ebene. Abfragbar: {known}.")
        return prop

    def _geometry(self, node: Any) -> str:
        if self._is_geometry(node):
            return f"{self.alias}.geom"
        srid = self.crs.srid
        if isinstance(node, dict) and "bbox" in node:
            box = node["bbox"]
            if not isinstance(box, list) or len(box) not in (4, 6):
                raise InvalidFilter("Eine BBOX braucht 4 oder 6 Zahlen.")
            x0, y0, x1, y1 = (box[0], box[1], box[3], box[4]) if len(box) == 6 else box
            if self.crs.lat_first:
                x0, y0, x1, y1 = y0, x0, y1, x1
            nums = ", ".join(self.params.add(values.as_float(v, _WHAT)) for v in (x0, y0, x1, y1))
            return f"ST_Transform(ST_MakeEnvelope({nums}, {srid}), 4326)"
        if isinstance(node, dict) and isinstance(node.get("type"), str) and (
            "coordinates" in node or node.get("type") == "GeometryCollection"
        ):
            self._check_geometry(node)
            geom = f"ST_SetSRID(ST_GeomFromGeoJSON({self.params.add(json.dumps(node), 'text')}), {srid})"
            if self.crs.lat_first:
                geom = f"ST_FlipCoordinates({geom})"
            return f"ST_Transform({geom}, 4326)"
        raise InvalidFilter("Räumliche Operatoren verbinden die Geometrie (geom) mit einer "
                            "Geometrie, z. B. S_INTERSECTS(geom, POINT(10.5 52.4)).")

    @staticmethod
    def _check_geometry(node: dict[str, Any]) -> None:
        """A geometry literal PostGIS will read: finite numbers, rings and lines long enough."""
        if not _finite_geometry(node):
            raise InvalidFilter("Die Geometrie im Filter enthält etwas, das keine endliche Zahl ist.")
        try:
            shapely.geometry.shape(node)
        except Exception as exc:  # shapely raises several types for malformed coordinates
            raise InvalidFilter(
                f"Die Geometrie im Filter ist kein gültiges {values.shown(node.get('type'), 40)}: "
                f"{str(exc)[:120]}"
            ) from None

    def _literal(self, prop: Property, value: Any) -> str:
        return bind_value(self.params, prop, self._literal_value(prop, value))

    def _literal_value(self, prop: Property, value: Any) -> Any:
        if self._is_property(value):
            raise InvalidFilter("Zwei Eigenschaften miteinander zu vergleichen wird nicht unterstützt.")
        return values.coerce(prop, value, f"{_WHAT} ({prop.name})")

    @staticmethod
    def _str(value: Any) -> str:
        if isinstance(value, (dict, list)) or value is None:
            raise InvalidFilter("Hier wird ein Text erwartet, z. B. 'Café%'.")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return str(value)


def _finite_geometry(node: Any) -> bool:
    """Every coordinate a finite number (``1e400`` became infinity in the parser)."""
    if not isinstance(node, dict):
        return False
    if node.get("type") == "GeometryCollection":
        parts = node.get("geometries")
        return isinstance(parts, list) and all(_finite_geometry(p) for p in parts)
    return _finite_coordinates(node.get("coordinates", []))


def _finite_coordinates(coords: Any) -> bool:
    if isinstance(coords, list):
        return all(_finite_coordinates(c) for c in coords)
    return (isinstance(coords, (int, float)) and not isinstance(coords, bool)
            and math.isfinite(coords))
