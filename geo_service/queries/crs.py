"""Coordinate reference systems offered by the API (OGC API – Features Part 2, CRS by reference)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from geo_service.errors import UnsupportedCRS

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class CRS:
    """A CRS the service can read and write."""

    uri: str
    srid: int
    #: True where the CRS's first axis is latitude/northing (EPSG:4326): coordinates are flipped.
    lat_first: bool
    #: Decimal places that give about 0.1 m.
    precision: int
    #: Bounds of valid coordinates in the CRS's own axis order (minx, miny, maxx, maxy).
    bounds: tuple[float, float, float, float]

    @property
    def short(self) -> str:
        return "CRS84" if self.uri == CRS84_URI else f"EPSG:{self.srid}"


SUPPORTED: dict[str, CRS] = {
    crs.uri: crs
    for crs in (
        CRS(CRS84_URI, 4326, False, 6, (-180, -90, 180, 90)),
        CRS("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 6, (-90, -180, 90, 180)),
        CRS("http://www.opengis.net/def/crs/EPSG/0/25832", 25832, False, 1,
            (-2_000_000, 0, 3_000_000, 10_000_000)),
        CRS("http://www.opengis.net/def/crs/EPSG/0/25833", 25833, False, 1,
            (-2_500_000, 0, 2_500_000, 10_000_000)),
        CRS("http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 1,
            (-20037508.35, -20048966.11, 20037508.35, 20048966.11)),
    )
}
DEFAULT = SUPPORTED[CRS84_URI]

_SHORT = re.compile(r"^(?:EPSG:?|urn:ogc:def:crs:EPSG::)(\d+)$", re.IGNORECASE)


def parse_crs(value: str | None, *, parameter: str = "crs") -> CRS:
    """Resolve a CRS URI (or ``EPSG:n`` / ``CRS84`` shorthand) to a supported CRS.

    Examples
    --------
    >>> parse_crs("EPSG:25832").srid
    25832
    >>> parse_crs("http://www.opengis.net/def/crs/EPSG/0/4326").lat_first
    True
    """
    if value is None or value == "":
        return DEFAULT
    text = value.strip().strip("[]")
    if text.upper() in ("CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84"):
        return DEFAULT
    match = _SHORT.match(text)
    if match:
        text = f"http://www.opengis.net/def/crs/EPSG/0/{match.group(1)}"
    text = text.replace("https://", "http://")
    crs = SUPPORTED.get(text)
    if crs is None:
        offered = ", ".join(c.short for c in SUPPORTED.values())
        raise UnsupportedCRS(f"{parameter} '{value}' is not supported. Use one of: {offered}.")
    return crs


def crs_list() -> list[str]:
    return list(SUPPORTED)
