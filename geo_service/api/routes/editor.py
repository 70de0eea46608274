"""The editor page for planners, and what it needs beyond the write API: the layers a key may
edit (every writable property, personal ones marked) and an item as its editors see it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from geo_service import editing
from geo_service.api.deps import LangDep, LayerDep, RegistryDep, SettingsDep
from geo_service.api.responses import GEOJSON
from geo_service.api.routes.edit import PrincipalDep
from geo_service.errors import FeatureNotFound
from geo_service.layers import Layer
from geo_service.maps import i18n
from geo_service.maps.builder import build_map
from geo_service.maps.pages import render_page
from geo_service.queries import edit

router = APIRouter(tags=["Bearbeiten"], include_in_schema=False)

PRIVATE = {"Cache-Control": "private, no-store"}


def _form_of(layer: Layer, lang: str) -> dict[str, Any]:
    """What the page builds a layer's form from: the writable properties, in file order."""
    fields = [{"name": p.name, "type": p.type, "label": p.label(lang), "required": p.required,
               "enum": p.enum, "max_length": p.max_length, "personal": p.personal}
              for p in layer.properties if not p.read_only]
    return {"id": layer.id, "title": layer.title.get(lang), "geometry_type": layer.geometry_type,
            "color": layer.style.color,
            "label": next((p.name for p in layer.properties if p.name in ("name", "title")), None),
            "properties": fields}


@router.get("/editor")
async def show_editor(settings: SettingsDep, lang: LangDep) -> Response:
    lang = lang if lang in i18n.COMPLETE else "en"
    messages = i18n.messages(lang)
    map_parts = build_map(settings, messages=messages, center=settings.map_center,
                          zoom=max(settings.map_zoom, 13))
    config = {"page": "editor", "lang": lang, "map": map_parts.name, "messages": messages}
    labels = {code: i18n.language_names([code], code)[code].capitalize() for code in i18n.COMPLETE}
    return render_page("editor.html", page="editor", settings=settings, lang=lang,
                       map_parts=map_parts, config=config, language_labels=labels)


@router.get("/editor/layers")
async def list_editable_layers(registry: RegistryDep, lang: LangDep,
                               who: PrincipalDep) -> Response:
    lang = lang if lang in i18n.COMPLETE else "en"
    layers = [_form_of(layer, lang) for layer in registry if who.may_edit(layer.id)]
    key = {"prefix": who.prefix, "role": who.role, "label": who.label,
           "districts": list(who.districts), "organisation": who.organisation}
    return Response(orjson.dumps({"key": key, "layers": layers}), media_type="application/json",
                    headers=PRIVATE)


@router.get("/editor/items/{layer}/{feature_id}")
async def get_editable_item(request: Request, layer: LayerDep, feature_id: str,
                            who: PrincipalDep) -> Response:
    """An item with every property (personal ones too) and the ETag a PATCH must send."""
    editing.check_layer(who, layer)
    if not feature_id.isdigit() or len(feature_id) > 18:
        raise FeatureNotFound(f"There is no item '{feature_id[:40]}': ids are numbers.")
    async with request.app.state.engine.connect() as conn:
        feature = await edit.load_feature(conn, layer, int(feature_id))
        if feature is None:
            raise FeatureNotFound(f"There is no item {feature_id} in {layer.id}.")
        await editing.check_scope(conn, who, layer, feature)
    body = {"type": "Feature", "id": feature.id, "geometry": feature.geometry,
            "properties": feature.properties}
    return Response(orjson.dumps(body, default=str), media_type=GEOJSON,
                    headers={**PRIVATE, "ETag": feature.etag})
