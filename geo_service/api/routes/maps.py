"""Map pages (resident, planner, embed, legal texts), their assets and the data they need."""

from __future__ import annotations

import datetime as dt
import mimetypes
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from geo_service.api.deps import LangDep, ReadDep, RegistryDep, SettingsDep
from geo_service.api.params import parse_ids, parse_instant, parse_int
from geo_service.api.responses import GeoJSONResponse
from geo_service.errors import InvalidParameter, LayerNotFound
from geo_service.maps import i18n
from geo_service.maps.builder import build_map
from geo_service.maps.export import export_bbox
from geo_service.maps.hours import describe
from geo_service.maps.pages import LEGAL, render_page
from geo_service.queries import indicators, mapdata, values
from geo_service.tools.opening import BERLIN, is_open

router = APIRouter(tags=["Karten"], include_in_schema=False)

ASSETS = Path(__file__).resolve().parents[2] / "maps" / "static"
#: The service's own page scripts and styles, by file name (nothing else is served from here).
_ASSET_FILES = {p.name: p for p in ASSETS.iterdir() if p.is_file()} if ASSETS.is_dir() else {}


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidParameter("bbox braucht vier Zahlen: minlon,minlat,maxlon,maxlat.")
    x0, y0, x1, y1 = (values.as_float(v, "bbox") for v in parts)
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise InvalidParameter("bbox muss minlon,minlat,maxlon,maxlat innerhalb der Welt sein "
                               "(Länge -180 bis 180, Breite -90 bis 90, das Minimum zuerst).")
    return (x0, y0, x1, y1)


def _zoom(value: str | None) -> int:
    return parse_int(value, "zoom", 0, 22) if value else 8


def _page_clock(request: Request, allowed: bool) -> str | None:
    """The test clock (``?now=``), honoured only where ``map_clock_override`` is set."""
    value = request.query_params.get("now")
    if not value or not allowed:
        return None
    instant = parse_instant(value, "now")
    if not isinstance(instant, dt.datetime):
        raise InvalidParameter("now braucht Datum und Uhrzeit, z. B. 2025-10-31T10:00+01:00.")
    return instant.isoformat()


def _language_labels(codes: list[str]) -> dict[str, str]:
    # Each language in its own name, as language switchers should show them.
    return {code: i18n.language_names([code], code)[code].capitalize() for code in codes}


@router.get("/map-assets/{name}")
async def get_map_asset(name: str) -> Response:
    path = _ASSET_FILES.get(name)
    if path is None:
        raise LayerNotFound(f"There is no map asset '{name[:40]}'.")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=300"})


@router.get("/karte")
async def show_resident_map(request: Request, settings: SettingsDep, registry: RegistryDep,
                            lang: LangDep) -> Response:
    messages = i18n.messages(lang)
    offers = registry.get("offers")
    places = registry.get("meeting_places")
    categories = (offers.property("category").enum if offers and offers.property("category") else None) or []
    targets = (offers.property("target_groups").enum if offers and offers.property("target_groups") else None) or []
    spoken = (places.property("languages").enum if places and places.property("languages") else None) or []
    names = i18n.language_names(spoken, lang)
    map_parts = build_map(settings, messages=messages, center=settings.map_center,
                          zoom=max(settings.map_zoom, 13), locate=True)
    config = {
        "page": "karte", "lang": lang, "map": map_parts.name, "messages": messages,
        "center": list(settings.map_center), "zoom": max(settings.map_zoom, 13),
        "now": _page_clock(request, settings.map_clock_override),
        "languageNames": names, "limit": 20,
    }
    return render_page("karte.html", page="karte", settings=settings, lang=lang,
                       map_parts=map_parts, config=config, categories=categories,
                       target_groups=targets,
                       spoken_languages=sorted(names.items(), key=lambda kv: kv[1]),
                       language_labels=_language_labels(settings.languages))


def _layer_list(registry: RegistryDep, lang: str) -> list[dict[str, object]]:
    return [{"id": layer.id, "title": layer.title.get(lang), "color": layer.style.color,
             "fill": layer.style.fill_color or layer.style.color,
             "point": layer.geometry_type in ("Point", "MultiPoint"),
             "tiles": [layer.tiles.min_zoom, layer.tiles.max_zoom],
             "temporal": layer.temporal is not None and layer.id == "projects",
             "label": next((p.name for p in layer.properties if p.name in ("name", "title")), None),
             "popup": [[name, prop.label(lang)] for name in layer.popup
                       if (prop := layer.property(name)) is not None]}
            for layer in registry]


@router.get("/planung")
async def show_planner_map(settings: SettingsDep, registry: RegistryDep, lang: LangDep) -> Response:
    lang = lang if lang in i18n.COMPLETE else "en"
    messages = i18n.messages(lang)
    map_parts = build_map(settings, messages=messages, center=settings.map_center,
                          zoom=settings.map_zoom, fullscreen=True)
    layers = _layer_list(registry, lang)
    this_year = dt.date.today().year
    config = {"page": "planung", "lang": lang, "map": map_parts.name, "messages": messages,
              "center": list(settings.map_center), "zoom": settings.map_zoom, "layers": layers,
              "initial": [layer["id"] for layer in layers
                          if layer["id"] in ("quartiers", "projects", "meeting_places")],
              "pointThreshold": settings.map_point_threshold}
    return render_page("planung.html", page="planung", settings=settings, lang=lang,
                       map_parts=map_parts, config=config, layer_list=layers,
                       indicators=list(indicators.INDICATORS),
                       years=list(range(this_year + 2, 2014, -1)),
                       language_labels=_language_labels(["de", "en"]))


@router.get("/embed")
async def show_embed_map(request: Request, settings: SettingsDep, registry: RegistryDep,
                         lang: LangDep) -> Response:
    wanted = [n for n in request.query_params.get("layers", "meeting_places").split(",") if n]
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise LayerNotFound(f"There is no layer '{unknown[0][:40]}'.")
    bbox = _bbox(request.query_params.get("bbox"))
    messages = i18n.messages(lang)
    map_parts = build_map(settings, messages=messages, center=settings.map_center,
                          zoom=settings.map_zoom)
    layers = [layer for layer in _layer_list(registry, lang) if layer["id"] in wanted]
    config = {"page": "embed", "lang": lang, "map": map_parts.name, "messages": messages,
              "center": list(settings.map_center), "zoom": settings.map_zoom,
              "layers": layers, "initial": wanted, "bbox": bbox,
              "pointThreshold": settings.map_point_threshold}
    full = "karte?" + urlencode({"lang": lang})  # relative: works under a path prefix
    return render_page("embed.html", page="embed", settings=settings, lang=lang,
                       map_parts=map_parts, config=config, full_url=full,
                       frame_ancestors=settings.embed_frame_ancestors)


def _legal(slug: str, text: str, settings: SettingsDep, lang: str) -> Response:
    messages = i18n.messages(lang)
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return render_page("legal.html", page="legal", settings=settings, lang=lang,
                       heading=messages[LEGAL[slug]], paragraphs=paragraphs)


@router.get("/impressum")
async def show_impressum(settings: SettingsDep, lang: LangDep) -> Response:
    return _legal("impressum", settings.legal_impressum, settings, lang)


@router.get("/datenschutz")
async def show_privacy(settings: SettingsDep, lang: LangDep) -> Response:
    return _legal("datenschutz", settings.legal_privacy, settings, lang)


@router.get("/barrierefreiheit")
async def show_accessibility(settings: SettingsDep, lang: LangDep) -> Response:
    return _legal("barrierefreiheit", settings.legal_accessibility, settings, lang)


@router.get("/karte/search")
async def search(conn: ReadDep, q: str = "") -> Response:
    term = q.strip()[:100]
    hits = await mapdata.search_places(conn, term) if len(term) >= 2 else []
    return Response(_dumps({"hits": hits}), media_type="application/json")


@router.get("/karte/hours")
async def get_opening_hours(conn: ReadDep, lang: LangDep, ids: str = "",
                            at: str | None = None) -> Response:
    """Opening hours of meeting places in words and whether they are open at ``at`` (default:
    now), evaluated here with Lower Saxony's public holidays."""
    wanted = parse_ids(ids, "ids")[:100]
    moment = dt.datetime.now(BERLIN)
    if at:
        instant = parse_instant(at, "at")
        if not isinstance(instant, dt.datetime):
            raise InvalidParameter("at braucht Datum und Uhrzeit, z. B. 2025-10-31T10:00+01:00.")
        moment = instant
    messages = i18n.messages(lang)
    hours = await mapdata.opening_hours_of(conn, wanted)
    doc = {str(i): {"text": describe(expr, lang, messages), "open_now": is_open(expr, moment)}
           for i, expr in hours.items()}
    return Response(_dumps(doc), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@router.get("/planung/indicators")
async def get_indicators(request: Request, conn: ReadDep, settings: SettingsDep) -> Response:
    indicator = request.query_params.get("indicator", "offers")
    if indicator not in indicators.INDICATORS:
        raise InvalidParameter(f"indicator: wählen Sie aus {', '.join(indicators.INDICATORS)}.")
    body = await indicators.quartier_indicators(
        conn, indicator=indicator, bbox=_bbox(request.query_params.get("bbox")),
        zoom=_zoom(request.query_params.get("zoom")), precision=settings.coordinate_precision)
    return GeoJSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/planung/grid/{layer_id}")
async def get_point_grid(layer_id: str, request: Request, conn: ReadDep,
                         registry: RegistryDep) -> Response:
    layer = registry.get(layer_id)
    if layer is None:
        raise LayerNotFound(f"There is no layer '{layer_id[:40]}'.")
    bbox = _bbox(request.query_params.get("bbox")) or (-180.0, -90.0, 180.0, 90.0)
    body = await mapdata.point_grid(conn, layer, bbox=bbox,
                                    zoom=_zoom(request.query_params.get("zoom")))
    return GeoJSONResponse(body, headers={"Cache-Control": "no-store"})


EXPORT_FORMATS = {"geojson": (".geojson", "application/geo+json"),
                  "gpkg": (".gpkg", "application/geopackage+sqlite3"),
                  "csv": (".csv", "text/csv")}


@router.get("/planung/export/{layer_id}")
async def export_view(layer_id: str, request: Request, registry: RegistryDep,
                      settings: SettingsDep) -> Response:
    """The layer's public data inside ``bbox`` as a file ("download what I see"), at most
    ``export_max_features`` features; the headers say how many and whether the cap cut."""
    layer = registry.get(layer_id)
    if layer is None:
        raise LayerNotFound(f"There is no layer '{layer_id[:40]}'.")
    fmt = request.query_params.get("format", "geojson")
    if fmt not in EXPORT_FORMATS:
        raise InvalidParameter("format: choose geojson, gpkg or csv.")
    suffix, media = EXPORT_FORMATS[fmt]
    bbox = _bbox(request.query_params.get("bbox"))
    # The primary: always there (the replica router's fallback does not cover a URL handed on).
    url = request.app.state.engine.url.render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="qk-export-"))
    path = folder / f"{layer.id}{suffix}"
    try:
        written = await export_bbox(request.app.state, settings, url, layer, path, bbox)
    except BaseException:
        _remove(folder)
        raise
    headers = {"Export-Features": str(written.features),
               "Export-Limit": str(settings.export_max_features),
               "Export-Truncated": "true" if written.truncated else "false",
               "Cache-Control": "no-store"}
    return FileResponse(path, media_type=media, filename=path.name, headers=headers,
                        background=BackgroundTask(_remove, folder))


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _dumps(doc: object) -> bytes:
    import orjson

    return orjson.dumps(doc)
