"""Pages of items: keyset (cursor) paging, and the rule for counting ``numberMatched``.

A page is one statement: the features as one JSON array built by PostgreSQL, one row more than
the page (so "is there a next page" needs no count), the sort key of the page's last row (the
next cursor), and the count only where the rule asks for it.

Counting rule (settings ``count_exact_limit`` and ``count_estimate``):

1. A first page that holds everything (fewer rows than ``limit``) is its own exact count: no
   count is run.
2. Otherwise matches are counted exactly, but the count stops at ``count_exact_limit + 1`` rows
   (``SELECT count(*) FROM (SELECT 1 … LIMIT n)``), so it costs at most that many index entries.
3. Above the limit, ``numberMatched`` is left out, or with ``count_estimate`` the planner's row
   estimate (``EXPLAIN``) is given and the response says so (``numberMatchedEstimated``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.errors import InvalidParameter
from geo_service.layers import Layer, Property
from geo_service.queries.sql import Params, bind_value, table_of, value_expr, where_clause


_BIGINT = 2**63


@dataclass(frozen=True)
class SortKey:
    expr: str
    descending: bool
    #: None for the feature id (never null, always last).
    prop: Property | None


@dataclass(frozen=True)
class CountRule:
    exact_limit: int = 10_000
    estimate: bool = False


@dataclass
class Page:
    """One page: features (JSON array text), how many, the next cursor, and the count."""

    features: str
    returned: int
    next_cursor: str | None
    matched: int | None
    estimated: bool = False


def sort_keys(layer: Layer, sortby: list[tuple[str, bool]], alias: str = "t") -> list[SortKey]:
    """The sort keys of a query: the chosen properties, then the id (ties never stay open)."""
    keys = []
    for name, descending in sortby:
        if name == "id":
            continue
        prop = layer.property(name)
        assert prop is not None
        keys.append(SortKey(value_expr(layer, prop, alias), descending, prop))
    id_desc = any(n == "id" and d for n, d in sortby)
    keys.append(SortKey(f"{alias}.id", id_desc, None))
    return keys


def order_by_sql(keys: list[SortKey]) -> str:
    return "ORDER BY " + ", ".join(
        f"{k.expr} {'DESC' if k.descending else 'ASC'}" + (" NULLS LAST" if k.prop else "")
        for k in keys
    )


def key_json_sql(keys: list[SortKey]) -> str:
    """The row's sort key as a JSON array text (what a cursor carries)."""
    return f"json_build_array({', '.join(k.expr for k in keys)})::text"


def _bind(params: Params, key: SortKey, value: Any) -> str:
    return bind_value(params, key.prop, value) if key.prop is not None else params.add(value)


def after_sql(keys: list[SortKey], values: list[Any], params: Params) -> str:
    """Rows strictly after ``values`` in the order of ``keys`` (NULLS LAST, mixed directions).

    Row comparison ``(a, b) > (x, y)`` cannot express mixed directions or nulls, so the
    condition is spelt out: equal on the keys before, after on this one.
    """
    alternatives = []
    for i, key in enumerate(keys):
        equal = []
        for prior, value in zip(keys[:i], values[:i], strict=True):
            equal.append(f"{prior.expr} IS NULL" if value is None
                         else f"{prior.expr} = {_bind(params, prior, value)}")
        value = values[i]
        if value is None:
            continue  # nothing sorts after a null (NULLS LAST) on this key
        op = "<" if key.descending else ">"
        after = f"{key.expr} {op} {_bind(params, key, value)}"
        if key.prop is not None:
            after = f"({after} OR {key.expr} IS NULL)"
        alternatives.append(" AND ".join([*equal, after]))
    if not alternatives:
        return "FALSE"
    return " OR ".join(f"({a})" for a in alternatives)


def encode_cursor(key_json: str) -> str:
    """An opaque cursor (URL-safe base64 of the JSON sort key)."""
    return base64.urlsafe_b64encode(key_json.encode()).decode().rstrip("=")


def decode_cursor(keys: list[SortKey], cursor: str,
                  coerce: Callable[[Property, str], Any]) -> list[Any]:
    """The typed sort key values a cursor carries; ``InvalidParameter`` if it does not fit.

    ``coerce`` types a property's value from text (the same function as for property filters).
    """
    problem = InvalidParameter(
        "cursor is not valid for this query (take it from a next link of the same query)."
    )
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise problem from None
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise problem
    values: list[Any] = []
    for key, value in zip(keys, raw, strict=True):
        if key.prop is None:
            if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= _BIGINT:
                raise problem
            values.append(value)
        elif value is None:
            values.append(None)
        elif isinstance(value, (dict, list)):
            raise problem
        else:
            text_value = str(value).lower() if isinstance(value, bool) else str(value)
            try:
                typed = coerce(key.prop, text_value)
            except InvalidParameter:
                raise problem from None
            if isinstance(typed, int) and not isinstance(typed, bool) and abs(typed) >= _BIGINT:
                raise problem
            values.append(typed)
    return values


def _count_sql(layer: Layer, conditions: list[str], params: Params, rule: CountRule) -> str:
    return (
        f"(SELECT count(*) FROM (SELECT 1 FROM {table_of(layer)} t {where_clause(conditions)} "
        f"LIMIT {params.add(rule.exact_limit + 1)}) c)"
    )


async def _estimate(conn: AsyncConnection, layer: Layer, conditions: list[str],
                    params: Params) -> int:
    sql = f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table_of(layer)} t {where_clause(conditions)}"
    plan = (await conn.execute(text(sql), params.values)).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


async def fetch_page(conn: AsyncConnection, layer: Layer, *, feature_sql: str,
                     conditions: list[str], params: Params, limit: int, offset: int,
                     first: bool, rule: CountRule) -> Page:
    """Run a page query (``feature_sql`` selects ``feature`` and ``key``, ``limit + 1`` rows).

    ``first``: no cursor was given, so a short page is the whole result and its own count.
    """
    lim = params.add(limit)
    shortcut = (
        f"{'TRUE' if first else 'FALSE'} AND count(*) <= {lim} "
        f"AND (count(*) > 0 OR {params.add(offset)} = 0)"
    )
    count = _count_sql(layer, conditions, params, rule) if rule.exact_limit > 0 else "NULL"
    sql = (
        f"SELECT coalesce(json_agg(f.feature) FILTER (WHERE f.n <= {lim}), '[]'::json)::text, "
        f"count(*), max(f.key) FILTER (WHERE f.n = {lim}), "
        # The count subquery is an init plan: PostgreSQL runs it only if CASE reaches it.
        f"CASE WHEN {shortcut} THEN -1 ELSE {count} END "
        f"FROM (SELECT row_number() OVER () AS n, p.feature, p.key FROM ({feature_sql}) p) f"
    )
    features, fetched, last_key, counted = (await conn.execute(text(sql), params.values)).one()
    returned = min(int(fetched), limit)
    next_cursor = encode_cursor(last_key) if fetched > limit and last_key else None
    if counted == -1:
        return Page(features, returned, next_cursor, offset + returned)
    if counted is not None and counted <= rule.exact_limit:
        return Page(features, returned, next_cursor, int(counted))
    if rule.estimate:
        estimate = max(await _estimate(conn, layer, conditions, params), offset + returned)
        return Page(features, returned, next_cursor, estimate, estimated=True)
    return Page(features, returned, next_cursor, None)


async def count_after_stream(conn: AsyncConnection, layer: Layer, *, conditions: list[str],
                             params: Params, rule: CountRule, offset: int, returned: int,
                             more: bool, first: bool) -> tuple[int | None, bool]:
    """``numberMatched`` (and whether it is an estimate) for a page that has been streamed."""
    if first and not more and (returned > 0 or offset == 0):
        return offset + returned, False
    if rule.exact_limit > 0:
        counted = (await conn.execute(text("SELECT " + _count_sql(layer, conditions, params, rule)),
                                      params.values)).scalar_one()
        if counted <= rule.exact_limit:
            return int(counted), False
    if rule.estimate:
        return max(await _estimate(conn, layer, conditions, params), offset + returned), True
    return None, False


async def stream_rows(conn: AsyncConnection, feature_sql: str, params: Params, *,
                      batch: int = 1000) -> AsyncIterator[tuple[str, str]]:
    """(feature JSON, key JSON) row by row from a server-side cursor."""
    result = await conn.stream(
        text(f"SELECT p.feature::text, p.key FROM ({feature_sql}) p").execution_options(yield_per=batch),
        params.values,
    )
    async for row in result:
        yield row[0], row[1]
