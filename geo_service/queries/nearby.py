""""Near me": the nearest meeting places and offers by true distance in metres (KNN on geography)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.layers import Layer
from geo_service.queries.sql import Params, properties_object, where_clause
from geo_service.tools.opening import is_open
from geo_service.tools.schedule import occurs_on

NEARBY_TABLES = ("meeting_places", "offers")


@dataclass
class NearbyQuery:
    lon: float
    lat: float
    limit: int = 10
    radius_m: float | None = None
    layers: list[str] = field(default_factory=lambda: list(NEARBY_TABLES))
    categories: list[str] = field(default_factory=list)
    target_groups: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    wheelchair: bool = False
    free: bool = False
    open_at: dt.datetime | None = None
    #: Also offers that are not held at a place but cover an area (distance 0 inside it).
    areas: bool = False
    #: Only offers taking place on this day (and the places that host one).
    day: dt.date | None = None


@dataclass
class NearbyHit:
    layer: str
    distance_m: float
    feature: str


def _offer_conditions(q: NearbyQuery, params: Params, alias: str) -> list[str]:
    found = []
    if q.categories:
        found.append(f"{alias}.category = ANY({params.add(q.categories, 'text[]')})")
    if q.target_groups:
        found.append(f"{alias}.target_groups && {params.add(q.target_groups, 'text[]')}")
    if q.free:
        found.append(f"{alias}.free IS TRUE")
    return found


def _place_conditions(q: NearbyQuery, params: Params, alias: str) -> list[str]:
    found = []
    if q.kinds:
        found.append(f"{alias}.kind = ANY({params.add(q.kinds, 'text[]')})")
    if q.wheelchair:
        found.append(f"{alias}.wheelchair = 'yes'")
    return found


def _conditions(table: str, q: NearbyQuery, params: Params, point: str) -> list[str]:
    found: list[str] = []
    if q.radius_m is not None:
        found.append(f"ST_DWithin(t.geom::geography, {point}, {params.add(float(q.radius_m))})")
    if table == "meeting_places":
        found += _place_conditions(q, params, "t")
        offers = _offer_conditions(q, params, "o")
        if offers:
            # A place matches when it hosts an offer that matches.
            found.append(
                "EXISTS (SELECT 1 FROM offers o WHERE o.meeting_place_id = t.id AND "
                + " AND ".join(offers) + ")"
            )
        if q.languages:
            langs = params.add(q.languages, "text[]")
            found.append(
                f"(t.languages && {langs} OR EXISTS (SELECT 1 FROM offers o WHERE "
                f"o.meeting_place_id = t.id AND o.languages && {langs}))"
            )
    else:
        found += _offer_conditions(q, params, "t")
        if not q.areas:
            found.append("t.meeting_place_id IS NOT NULL")
        if q.languages:
            found.append(f"t.languages && {params.add(q.languages, 'text[]')}")
        places = _place_conditions(q, params, "m")
        if places or q.open_at is not None:
            found.append(
                "EXISTS (SELECT 1 FROM meeting_places m WHERE m.id = t.meeting_place_id"
                + "".join(f" AND {c}" for c in places) + ")"
            )
    return found


def _takes_place(dates: object, day: dt.date) -> bool:
    entries = json.loads(dates) if isinstance(dates, str) else (dates or [])
    return any(occurs_on(day, starts_at=s, ends_at=e, recurrence=r) for s, e, r in entries)


async def find_nearby(conn: AsyncConnection, layers: list[Layer], q: NearbyQuery, *,
                      precision: int) -> list[NearbyHit]:
    """The ``q.limit`` nearest features over the chosen layers, nearest first.

    Each layer is searched with the geography GiST index (``<->`` KNN); with ``open_at`` more
    candidates are read, since opening hours are evaluated after the query.
    """
    hits: list[NearbyHit] = []
    post_filter = q.open_at is not None or q.day is not None
    fetch = min(max(q.limit * 5, 50), 1000) if post_filter else q.limit
    for layer in layers:
        table = layer.source_table
        params = Params()
        point = (
            f"ST_SetSRID(ST_MakePoint({params.add(q.lon)}, {params.add(q.lat)}), 4326)::geography"
        )
        layer_name = params.add(layer.id, "text")
        props = properties_object(layer, layer.output_properties, "k", extra=[
            ("layer", f"{layer_name}"),
            ("distance_m", "round(k.distance::numeric, 1)"),
        ])
        hours = (
            "t.opening_hours" if table == "meeting_places"
            else "(SELECT m.opening_hours FROM meeting_places m WHERE m.id = t.meeting_place_id)"
        )
        dates = (
            "(SELECT json_agg(json_build_array(o.starts_at, o.ends_at, o.recurrence)) FROM offers o "
            "WHERE o.meeting_place_id = t.id)" if table == "meeting_places"
            else "json_build_array(json_build_array(t.starts_at, t.ends_at, t.recurrence))"
        ) if q.day is not None else "NULL::json"
        sql = (
            f"SELECT k.distance, k.hours, k.dates, json_build_object('type', 'Feature', "
            f"'id', {layer_name} || '.' || k.id, "
            f"'geometry', ST_AsGeoJSON(k.geom, {int(precision)})::json, "
            f"'properties', {props})::text FROM ("
            f"SELECT t.*, {hours} AS hours, {dates} AS dates, ST_Distance(t.geom::geography, {point}) AS distance "
            f"FROM {table} t {where_clause(_conditions(table, q, params, point))} "
            f"ORDER BY t.geom::geography <-> {point} LIMIT {params.add(fetch)}) k"
        )
        rows = (await conn.execute(text(sql), params.values)).all()
        for distance, hours, dates, feature in rows:
            if q.open_at is not None and is_open(hours, q.open_at) is not True:
                continue
            if q.day is not None and not _takes_place(dates, q.day):
                continue
            hits.append(NearbyHit(layer.id, float(distance), feature))
    hits.sort(key=lambda h: h.distance_m)
    return hits[: q.limit]
