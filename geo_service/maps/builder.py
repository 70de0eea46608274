"""Leaflet maps built with folium: base map, tiles and controls; data is loaded by the browser."""

from __future__ import annotations

import re
from dataclasses import dataclass

import folium
import folium.plugins
from branca.element import MacroElement
from jinja2 import Template

from geo_service.settings import Settings


class LocalMap(folium.Map):
    """A folium map whose assets the page template links itself (vendored, never a CDN)."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []


class FullscreenControl(MacroElement):
    """leaflet.fullscreen 5 (vendored) has no ``L.control.fullscreen`` factory, which
    folium's own plugin calls; this element creates the control directly."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            new L.Control.FullScreen({{ this.options|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, title: str, title_cancel: str):
        super().__init__()
        self._name = "FullscreenControl"
        self.options = {"position": "topleft", "title": title, "titleCancel": title_cancel}


class LocateControl(folium.plugins.LocateControl):
    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []


@dataclass
class MapParts:
    """The pieces of a folium map that a page template places: variable name, div, script."""

    name: str
    html: str
    script: str


def build_map(settings: Settings, *, messages: dict[str, str], center: tuple[float, float],
              zoom: int, fullscreen: bool = False, locate: bool = False) -> MapParts:
    """A Leaflet map with the configured basemap and the chosen controls.

    The page's own script finds the map by ``MapParts.name`` and loads every data layer from
    the API in the browser: folium never fetches data while the page is built.
    """
    figure = folium.Figure()
    fmap = LocalMap(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                    max_bounds=False)
    fmap.add_to(figure)
    folium.TileLayer(tiles=settings.basemap_url, attr=settings.basemap_attribution,
                     name=messages["map.basemap"], max_zoom=19, control=False).add_to(fmap)
    if fullscreen:
        fmap.add_child(FullscreenControl(title=messages["map.fullscreen"],
                                         title_cancel=messages["map.fullscreen_exit"]))
    if locate:
        LocateControl(strings={"title": messages["locate.button"]}, setView="once",
                      drawCircle=True, showPopup=False).add_to(fmap)
    figure.render()
    html = figure.html.render()
    script = figure.script.render()
    # folium's markup carries its own inline style for the div; the page's stylesheet sizes it.
    html = re.sub(r'\s*style="[^"]*"', "", html)
    return MapParts(name=fmap.get_name(), html=html.strip(), script=script.strip())
