"""Small builders of import files, written into a test's tmp_path (no binary fixtures)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.layers import Layer, Registry
from tests.conftest import ROOT

#: Inside Lower Saxony: Gifhorn, Hildesheim, Emden.
GIFHORN = (10.5493, 52.4766)
HILDESHEIM = (9.9572, 52.1617)
EMDEN = (7.2226, 53.3594)


def registry() -> Registry:
    return Registry.from_dir(ROOT / "layers")


def layer(layer_id: str) -> Layer:
    found = registry().get(layer_id)
    assert found is not None
    return found


def frame(rows: Sequence[dict[str, Any]], geoms: Sequence[BaseGeometry | None],
          crs: str | int | None = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(list(rows), geometry=list(geoms), crs=crs)


def write(data: gpd.GeoDataFrame, path: Path, **kwargs: Any) -> Path:
    data.to_file(path, **kwargs)
    return path


def playgrounds(n: int = 3) -> gpd.GeoDataFrame:
    """n valid playgrounds near Gifhorn."""
    x, y = GIFHORN
    return frame([{"name": f"Spielplatz {i}", "age_group": "alle"} for i in range(n)],
                 [shapely.Point(x + i * 0.001, y) for i in range(n)])


def zip_shapefile(data: gpd.GeoDataFrame, folder: Path, name: str, encoding: str) -> Path:
    """A zipped Shapefile with a .cpg naming ``encoding``."""
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / f"{name}.shp"
    data.to_file(shp, encoding=encoding)
    archive = folder.parent / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.glob(f"{name}.*"):
            zf.write(part, part.name)
    return archive
