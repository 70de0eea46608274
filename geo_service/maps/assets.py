"""The vendored JavaScript/CSS the map pages load, and folium pointed at them instead of CDNs."""

from __future__ import annotations

import folium
import folium.plugins

# Relative to the page (every map page is one path segment deep), so the pages also work
# under a path prefix behind a proxy (e.g. /quartierskarte/karte).
VENDOR = "static/vendor"
OWN = "map-assets"

LEAFLET_JS = f"{VENDOR}/leaflet/leaflet.js"
LEAFLET_CSS = f"{VENDOR}/leaflet/leaflet.css"
CLUSTER_JS = f"{VENDOR}/leaflet.markercluster/leaflet.markercluster.js"
CLUSTER_CSS = [f"{VENDOR}/leaflet.markercluster/MarkerCluster.css",
               f"{VENDOR}/leaflet.markercluster/MarkerCluster.Default.css"]
LOCATE_JS = f"{VENDOR}/leaflet.locatecontrol/L.Control.Locate.min.js"
LOCATE_CSS = f"{VENDOR}/leaflet.locatecontrol/L.Control.Locate.min.css"
FULLSCREEN_JS = f"{VENDOR}/leaflet.fullscreen/Control.FullScreen.umd.js"
FULLSCREEN_CSS = f"{VENDOR}/leaflet.fullscreen/Control.FullScreen.css"
VECTORGRID_JS = f"{VENDOR}/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"

#: Per page: (stylesheets, scripts before the map script). The page's own script comes last.
PAGES: dict[str, tuple[list[str], list[str]]] = {
    "karte": ([LEAFLET_CSS, *CLUSTER_CSS, LOCATE_CSS, f"{OWN}/maps.css"],
              [LEAFLET_JS, CLUSTER_JS, LOCATE_JS]),
    "planung": ([LEAFLET_CSS, *CLUSTER_CSS, FULLSCREEN_CSS, f"{OWN}/maps.css"],
                [LEAFLET_JS, CLUSTER_JS, FULLSCREEN_JS, VECTORGRID_JS]),
    "embed": ([LEAFLET_CSS, *CLUSTER_CSS, f"{OWN}/maps.css"], [LEAFLET_JS, CLUSTER_JS, VECTORGRID_JS]),
    "legal": ([f"{OWN}/maps.css"], []),
    "editor": ([LEAFLET_CSS, f"{OWN}/maps.css", f"{OWN}/editor.css"], [LEAFLET_JS]),
}


def use_local_assets() -> None:
    """Point folium's class-level asset lists at the vendored files (called once at start-up).

    New lists are assigned rather than the old ones changed, so nothing that kept a reference
    to folium's originals is altered behind its back. Libraries we do not ship (jQuery,
    Bootstrap, Font Awesome, awesome-markers) are dropped: the map pages do not use them, and a
    folium element that needs them should fail visibly here rather than reach for a CDN.
    """
    folium.Map.default_js = [("leaflet", LEAFLET_JS)]
    folium.Map.default_css = [("leaflet_css", LEAFLET_CSS)]
    folium.plugins.MarkerCluster.default_js = [("markerclusterjs", CLUSTER_JS)]
    folium.plugins.MarkerCluster.default_css = [
        ("markerclustercss", CLUSTER_CSS[0]), ("markerclusterdefaultcss", CLUSTER_CSS[1])]
    folium.plugins.LocateControl.default_js = [("Control_locate_min_js", LOCATE_JS)]
    folium.plugins.LocateControl.default_css = [("Control_locate_min_css", LOCATE_CSS)]
    folium.plugins.Fullscreen.default_js = [("Control.Fullscreen.js", FULLSCREEN_JS)]
    folium.plugins.Fullscreen.default_css = [("Control.FullScreen.css", FULLSCREEN_CSS)]
