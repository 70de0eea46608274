"""Request mixes: random bboxes sized to a target number of features, random positions."""

from __future__ import annotations

import math

import numpy as np

from bench.data import LOWER_SAXONY

Box = tuple[float, float, float, float]
WORKLOAD_SEED = 4711


def bbox_size(n_points: int, target: int, area: Box = LOWER_SAXONY) -> tuple[float, float]:
    """(width, height) in degrees of a box that holds about ``target`` of ``n_points``.

    Points are uniform in lon/lat, so the expected count is proportional to the box's area in
    square degrees. The box is square on the ground (width / height = 1 / cos(latitude)).
    """
    x0, y0, x1, y1 = area
    box_area = (x1 - x0) * (y1 - y0) * min(1.0, target / n_points)
    squash = math.cos(math.radians((y0 + y1) / 2))
    height = math.sqrt(box_area * squash)
    return min(box_area / height, x1 - x0), min(height, y1 - y0)


def random_bboxes(count: int, size: tuple[float, float], *, seed: int = WORKLOAD_SEED,
                  area: Box = LOWER_SAXONY) -> list[Box]:
    """``count`` boxes of ``size`` wholly inside ``area``, rounded to 6 decimals (as sent)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = area
    width, height = size
    left = rng.uniform(x0, x1 - width, count)
    bottom = rng.uniform(y0, y1 - height, count)
    return [
        (round(lx, 6), round(by, 6), round(lx + width, 6), round(by + height, 6))
        for lx, by in zip(left.tolist(), bottom.tolist(), strict=True)
    ]


def random_positions(count: int, *, seed: int = WORKLOAD_SEED + 1,
                     area: Box = LOWER_SAXONY) -> list[tuple[float, float]]:
    """``count`` (lon, lat) positions inside ``area``, rounded to 6 decimals."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = area
    lons, lats = rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)
    return [(round(x, 6), round(y, 6)) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
