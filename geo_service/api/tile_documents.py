"""The JSON documents of OGC API – Tiles: tile matrix sets, tileset lists, tileset metadata (TileJSON)."""

from __future__ import annotations

from typing import Any

from geo_service.api.documents import link
from geo_service.layers import Layer
from geo_service.queries.metadata import Extent
from geo_service.queries.tiles import MVT, TMS_ID, web_mercator

REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
WEB_MERCATOR_CRS = "http://www.opengis.net/def/crs/EPSG/0/3857"

#: TileJSON field types of our property types.
_FIELD_TYPES = {"integer": "Number", "number": "Number", "boolean": "Boolean"}
_GEOMETRY_KINDS = {"Point": "points", "MultiPoint": "points", "LineString": "lines",
                   "MultiLineString": "lines", "Polygon": "polygons", "MultiPolygon": "polygons"}


def tile_matrix_sets(base: str) -> dict[str, Any]:
    tms = web_mercator()
    return {"tileMatrixSets": [{
        "id": TMS_ID, "title": tms.title, "uri": str(tms.uri),
        "links": [link(f"{base}/tileMatrixSets/{TMS_ID}", "self", "application/json", tms.title)],
    }]}


def tile_matrix_set() -> dict[str, Any]:
    """The full definition, as morecantile (the OGC TMS 2.0 JSON encoding) gives it."""
    return web_mercator().model_dump(exclude_none=True, mode="json")


def _template(base: str, layer: Layer) -> str:
    return f"{base}/collections/{layer.id}/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}"


def _tileset_links(base: str, layer: Layer) -> list[dict[str, Any]]:
    item = link(_template(base, layer), "item", MVT, "Mapbox Vector Tile")
    item["templated"] = True  # type: ignore[assignment]
    return [
        link(f"{base}/collections/{layer.id}/tiles/{TMS_ID}", "self", "application/json",
             f"{layer.title.en} ({TMS_ID})"),
        link(f"{base}/tileMatrixSets/{TMS_ID}", REL_TILING_SCHEME, "application/json", TMS_ID),
        link(f"{base}/collections/{layer.id}", "http://www.opengis.net/def/rel/ogc/1.0/geodata",
             "application/json", layer.title.en),
        item,
    ]


def tilesets(base: str, layer: Layer) -> dict[str, Any]:
    """``/collections/{layer}/tiles``: the layer's one tileset."""
    return {
        "links": [link(f"{base}/collections/{layer.id}/tiles", "self", "application/json", "Tilesets")],
        "tilesets": [{
            "title": f"{layer.title.en} ({TMS_ID})", "dataType": "vector", "crs": WEB_MERCATOR_CRS,
            "tileMatrixSetURI": str(web_mercator().uri), "links": _tileset_links(base, layer),
        }],
    }


def tileset(base: str, layer: Layer, extent: Extent, lang: str) -> dict[str, Any]:
    """Tileset metadata: the OGC API – Tiles document and, in the same object, TileJSON 3.0.

    A MapLibre or OpenLayers vector source can be pointed at this URL directly (``url``); it reads
    ``tiles``, ``minzoom``, ``maxzoom``, ``bounds`` and ``vector_layers``.
    """
    opts = layer.tiles
    fields = {p.name: _FIELD_TYPES.get(p.type, "String") for p in layer.tile_properties}
    bounds = list(extent.bbox) if extent.bbox else [-180.0, -85.0511, 180.0, 85.0511]
    center = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2,
              max(opts.min_zoom, min(opts.max_zoom, 8))]
    return {
        "tilejson": "3.0.0",
        "name": layer.id,
        "title": layer.title.get(lang),
        "description": layer.description.get(lang) if layer.description else "",
        "attribution": layer.attribution or "",
        "scheme": "xyz",
        "tiles": [_template(base, layer)],
        "minzoom": opts.min_zoom,
        "maxzoom": opts.max_zoom,
        "bounds": bounds,
        "center": center,
        "vector_layers": [{"id": layer.id, "fields": fields, "minzoom": opts.min_zoom,
                           "maxzoom": opts.max_zoom, "description": layer.title.get(lang)}],
        "dataType": "vector",
        "crs": WEB_MERCATOR_CRS,
        "tileMatrixSetURI": str(web_mercator().uri),
        "layers": [{"id": layer.id, "dataType": "vector",
                    "geometryType": _GEOMETRY_KINDS.get(layer.geometry_type, "geometry"),
                    "minTileMatrix": str(opts.min_zoom), "maxTileMatrix": str(opts.max_zoom)}],
        "links": _tileset_links(base, layer),
    }
