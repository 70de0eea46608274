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


def many_playgrounds(path: Path, n: int, prefix: str = "Spielplatz", seed: int = 7) -> Path:
    """n playgrounds around Gifhorn as GeoJSON, written as text (fast for 100,000s)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lon = 10.40 + rng.random(n) * 0.3
    lat = 52.40 + rng.random(n) * 0.15
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type": "FeatureCollection", "features": [\n')
        out.write(",\n".join(
            f'{{"type": "Feature", "properties": {{"name": "{prefix} {i}", "age_group": "alle"}}, '
            f'"geometry": {{"type": "Point", "coordinates": [{x:.6f}, {y:.6f}]}}}}'
            for i, (x, y) in enumerate(zip(lon, lat))))
        out.write("]}\n")
    return path


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


def zip_bomb(path: Path, *, unpacked_mb: int, declared_mb: int | None = None,
             shapefile: Path | None = None) -> Path:
    """A small zip whose ``bombe.dbf`` unpacks to ``unpacked_mb`` MB of records (a valid dBase
    header, 255-byte records), built in milliseconds: the deflate stream of one 1 MB block,
    fully flushed, repeats identically. ``declared_mb`` makes the zip lie about the size;
    ``shapefile`` adds that .shp/.shx (renamed to bombe.*) so the zip looks like a Shapefile.
    """
    import struct
    import zlib

    record, per_block = 255, (1 << 20) // 255
    blocks = unpacked_mb
    records = per_block * blocks
    header = (struct.pack("<BBBBIHH20x", 3, 126, 1, 1, records, 32 + 32 + 1, record)
              + struct.pack("<11sc4xBB14x", b"name", b"C", 254, 0) + b"\r")
    block = (b" " + b"Spielplatz".ljust(254)) * per_block
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    body = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(header)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    size = len(header) + len(block) * blocks
    told = size if declared_mb is None else declared_mb * (1 << 20)
    packed = len(head) + len(body) * blocks + len(tail)
    members: list[tuple[bytes, int, int, int, int, bytes | None]] = []
    with path.open("wb") as out:
        if shapefile is not None:
            for suffix in (".shp", ".shx"):
                data = shapefile.with_suffix(suffix).read_bytes()
                squeezed = zlib.compress(data, 9)[2:-4]
                members.append((f"bombe{suffix}".encode(), zlib.crc32(data), len(squeezed),
                                len(data), out.tell(), None))
                _local_header(out, members[-1])
                out.write(squeezed)
        members.append((b"bombe.dbf", crc, packed, told, out.tell(), None))
        _local_header(out, members[-1])
        out.write(head)
        for _ in range(blocks):
            out.write(body)
        out.write(tail)
        directory = out.tell()
        for name, crc32, csize, usize, offset, _ in members:
            out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc32,
                                  csize, usize, len(name), 0, 0, 0, 0, 0o644 << 16, offset) + name)
        end = out.tell()
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                              end - directory, directory, 0))
    return path


def _local_header(out: Any, member: tuple[bytes, int, int, int, int, bytes | None]) -> None:
    import struct

    name, crc32, csize, usize, _, _ = member
    out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc32, csize, usize,
                          len(name), 0) + name)
