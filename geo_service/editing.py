"""Editing rules: who may change what, validation from the layer file, concurrency and history.

Every function runs inside the caller's transaction: an error anywhere rolls everything back.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.ext.asyncio import AsyncConnection

from geo_service.auth import Principal
from geo_service.errors import FeatureNotFound, Forbidden, InvalidData, PreconditionFailed
from geo_service.layers import Layer
from geo_service.queries import edit
from geo_service.queries.edit import StoredFeature
from geo_service.validation import ServiceArea, validate_feature

MAX_DEPTH = 20


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396): objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def parse_feature(body: Any) -> tuple[dict[str, Any], BaseGeometry | None]:
    """A GeoJSON Feature -> (properties, shapely geometry in EPSG:4326)."""
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise InvalidData('Send a GeoJSON Feature: {"type": "Feature", "geometry": …, "properties": {…}}.')
    if _depth(body) > MAX_DEPTH:
        raise InvalidData("The feature is nested too deeply.")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidData("'properties' must be an object.")
    for name, value in props.items():
        if isinstance(value, dict) or (isinstance(value, list)
                                       and any(isinstance(v, (dict, list)) for v in value)):
            raise InvalidData(f"'{str(name)[:40]}': nested objects are not allowed as values.")
    raw = body.get("geometry")
    if raw is None:
        return props, None
    if not isinstance(raw, dict) or "type" not in raw:
        raise InvalidData("'geometry' must be a GeoJSON geometry object.")
    if "crs" in raw or "crs" in body:
        raise InvalidData("Coordinates must be WGS 84 longitude/latitude (CRS84); no 'crs' member.")
    try:
        geometry = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InvalidData(f"The geometry cannot be read: {str(exc)[:160]}") from None
    return props, geometry


def _validated(layer: Layer, props: dict[str, Any], geometry: BaseGeometry | None,
               area: ServiceArea) -> tuple[dict[str, Any], BaseGeometry | None]:
    optional = layer.source_table == "offers" and bool(
        props.get("meeting_place_id") or props.get("quartier_id"))
    result = validate_feature(layer, props, geometry, area=area, geometry_optional=optional)
    if result.errors:
        raise InvalidData("Die Daten sind nicht gültig: " + " ".join(result.errors))
    return result.values, result.geometry


def check_layer(principal: Principal, layer: Layer) -> None:
    if not principal.may_edit(layer.id):
        raise Forbidden(f"Your key may not edit the layer {layer.id}.")


async def check_scope(conn: AsyncConnection, principal: Principal, layer: Layer,
                      feature: StoredFeature) -> None:
    """Districts and organisation a narrowed editor is bound to."""
    if principal.admin:
        return
    if principal.districts and not await edit.within_districts(conn, feature, principal.districts):
        raise Forbidden("This feature lies outside the districts your key is granted: "
                        + ", ".join(principal.districts) + ".")
    if principal.organisation:
        owner = layer.owner_property
        if owner is None or feature.properties.get(owner) != principal.organisation:
            raise Forbidden(f"Your key may only change records of {principal.organisation}.")


def check_if_match(if_match: str | None, current: StoredFeature) -> None:
    if if_match is None:
        return
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" not in tags and current.etag not in tags:
        raise PreconditionFailed(
            f"The item has changed since you read it (current ETag {current.etag}). "
            "Load it again and repeat your change."
        )


async def _load(conn: AsyncConnection, layer: Layer, feature_id: int, *, lock: bool) -> StoredFeature:
    found = await edit.load_feature(conn, layer, feature_id, lock=lock)
    if found is None:
        raise FeatureNotFound(f"There is no item {feature_id} in {layer.id}.")
    return found


async def _for_change(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int,
                      if_match: str | None) -> StoredFeature:
    """The current version, locked, once the key may change it and its If-Match is current."""
    check_layer(who, layer)
    before = await _load(conn, layer, feature_id, lock=True)
    check_if_match(if_match, before)
    await check_scope(conn, who, layer, before)
    return before


async def create(conn: AsyncConnection, layer: Layer, who: Principal, body: Any, *,
                 area: ServiceArea) -> StoredFeature:
    check_layer(who, layer)
    props, geometry = parse_feature(body)
    values, geometry = _validated(layer, props, geometry, area)
    new_id = await edit.insert_feature(conn, layer, values, geometry)
    after = await _load(conn, layer, new_id, lock=False)
    await check_scope(conn, who, layer, after)
    await edit.record_history(conn, layer, new_id, action="create", who=who, before=None, after=after)
    return after


async def replace(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int, body: Any, *,
                  if_match: str | None, area: ServiceArea) -> StoredFeature:
    before = await _for_change(conn, layer, who, feature_id, if_match)
    props, geometry = parse_feature(body)
    values, geometry = _validated(layer, props, geometry, area)
    return await _store(conn, layer, who, before, values, geometry)


async def patch(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int, body: Any, *,
                if_match: str | None, area: ServiceArea) -> StoredFeature:
    before = await _for_change(conn, layer, who, feature_id, if_match)
    if not isinstance(body, dict) or _depth(body) > MAX_DEPTH:
        raise InvalidData("A merge patch is a JSON object with 'properties' and/or 'geometry'.")
    unknown = set(body) - {"type", "properties", "geometry"}
    if unknown:
        raise InvalidData(f"A merge patch may change 'properties' and 'geometry', not {sorted(unknown)}.")
    current = {"type": "Feature", "properties": before.properties, "geometry": before.geometry}
    merged = merge_patch(current, body)
    merged["type"] = "Feature"
    props, geometry = parse_feature(merged)
    values, geometry = _validated(layer, props, geometry, area)
    return await _store(conn, layer, who, before, values, geometry)


async def _store(conn: AsyncConnection, layer: Layer, who: Principal, before: StoredFeature,
                 values: dict[str, Any], geometry: BaseGeometry | None) -> StoredFeature:
    await edit.update_feature(conn, layer, before.id, values, geometry)
    after = await _load(conn, layer, before.id, lock=False)
    await check_scope(conn, who, layer, after)
    after.consent_voided = await void_consent_if_person_changed(conn, layer, before, after)
    await edit.record_history(conn, layer, before.id, action="update", who=who, before=before,
                              after=after)
    return after


# -- consent belongs to a person --------------------------------------------------------------
def person_changed(layer: Layer, before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a change names another contact person: any personal field different, filled
    or emptied. A consent covers the person it was given for, not the item."""
    return edit.personal_values(layer, before) != edit.personal_values(layer, after)


async def void_consent_if_person_changed(conn: AsyncConnection, layer: Layer,
                                         before: StoredFeature, after: StoredFeature) -> bool:
    """The rule for every write that changes an existing item (HTTP writes; an import that
    updates items must call it too): when the contact person changes, every consent recorded
    for the item is revoked, so the new person stays private until their own consent is
    recorded. Returns whether a consent was revoked."""
    if not person_changed(layer, before.properties, after.properties):
        return False
    return await edit.revoke_consents(conn, layer, after.id) > 0


async def remove(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int, *,
                 if_match: str | None) -> None:
    before = await _for_change(conn, layer, who, feature_id, if_match)
    await edit.delete_feature(conn, layer, feature_id)
    await edit.record_history(conn, layer, feature_id, action="delete", who=who, before=before,
                              after=None)


async def restore(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int, *,
                  area: ServiceArea) -> StoredFeature:
    """Bring a deleted item back under its old id (admins only)."""
    if not who.admin:
        raise Forbidden("Only an admin may restore a deleted item.")
    if await edit.load_feature(conn, layer, feature_id) is not None:
        raise InvalidData(f"Item {feature_id} of {layer.id} is not deleted.")
    state = await edit.last_deleted(conn, layer, feature_id)
    if state is None:
        raise FeatureNotFound(f"No deleted item {feature_id} is recorded for {layer.id}.")
    props, geometry = parse_feature({"type": "Feature", **state})
    values, geometry = _validated(layer, props, geometry, area)
    await edit.insert_feature(conn, layer, values, geometry, feature_id=feature_id)
    after = await _load(conn, layer, feature_id, lock=False)
    await edit.record_history(conn, layer, feature_id, action="restore", who=who, before=None,
                              after=after)
    return after


async def history(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int) -> list[dict[str, Any]]:
    """Every version of an item, for a key that may change it: the same layer, districts and
    organisation as for writes (tested on the item as it is, or as it was when deleted), and
    within the history only the states that lie in the key's scope."""
    check_layer(who, layer)
    current = await edit.load_feature(conn, layer, feature_id)
    if current is None:
        state = await edit.last_state(conn, layer, feature_id)
        if state is None:
            raise FeatureNotFound(f"There is no item {feature_id} in {layer.id}.")
        current = StoredFeature(feature_id, state.get("properties") or {},
                                state.get("geometry"), dt.datetime.now(dt.timezone.utc))
    await check_scope(conn, who, layer, current)
    consented = (edit.personal_values(layer, current.properties)
                 if await edit.has_consent(conn, layer, feature_id) else None)
    return await edit.feature_history(
        conn, layer, feature_id, districts=() if who.admin else who.districts,
        organisation=None if who.admin else who.organisation, consented_person=consented)


async def give_consent(conn: AsyncConnection, layer: Layer, who: Principal, feature_id: int,
                       body: Any) -> int:
    """Record a person's consent to publish their contact data on this item."""
    check_layer(who, layer)
    feature = await _load(conn, layer, feature_id, lock=False)
    await check_scope(conn, who, layer, feature)
    if not isinstance(body, dict):
        raise InvalidData("Send {given_by, given_at, purpose}.")
    given_by, purpose, given_at = body.get("given_by"), body.get("purpose"), body.get("given_at")
    if not (isinstance(given_by, str) and given_by.strip() and isinstance(purpose, str) and purpose.strip()):
        raise InvalidData("A consent needs 'given_by' (who consented) and 'purpose'.")
    try:
        when = dt.datetime.fromisoformat(str(given_at).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidData("'given_at' must be an ISO 8601 date and time.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return await edit.record_consent(conn, layer, feature_id, given_by=given_by[:200],
                                     given_at=when, purpose=purpose[:500], recorded_by=who.actor)
