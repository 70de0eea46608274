""""Download what I see": a layer's public data inside a bbox, written with the exporter's code."""

from __future__ import annotations

from pathlib import Path

from pyproj import CRS

from geo_service.io import exporter
from geo_service.layers import Layer


def export_bbox(url: str, layer: Layer, path: Path,
                bbox: tuple[float, float, float, float] | None) -> int:
    """Write the features of ``layer`` that intersect ``bbox`` to ``path`` (format by suffix)."""
    frame = exporter.read_layer(url, layer)
    if bbox is not None and len(frame):
        frame = frame[frame.intersects(_box(bbox))]
    driver = exporter.DRIVERS[path.suffix.lower()]
    if driver == "CSV":
        exporter._write_csv(frame, path, CRS.from_epsg(4326))
    else:
        exporter._write_gis(frame, path, driver, layer)
    return len(frame)


def _box(bbox: tuple[float, float, float, float]):  # type: ignore[no-untyped-def]
    import shapely

    return shapely.box(*bbox)
