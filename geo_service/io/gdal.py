"""GDAL with one vector driver: while an import reads a file, the only driver registered in the
process is the one the file's format names.

pyogrio 0.13 opens every dataset with ``GDALOpenEx`` and no list of allowed drivers, so GDAL
would try all 64 vector drivers of its bundled build on the content (VRT, GDALG, CSV, OAPIF …,
some of which read other files or fetch URLs). GDAL's documented ``GDAL_SKIP`` setting
deregisters drivers when GDAL registers its drivers; re-running the registration with
``GDAL_SKIP`` naming every other driver leaves exactly one, and running it again with
``GDAL_SKIP`` cleared brings the others back. Whether it worked is checked, not assumed:
``pyogrio.list_drivers()`` must name that one driver, else nothing is opened.

The driver list is process-wide. Imports over HTTP run in a job process of their own
(:mod:`geo_service.jobs`); the command line is a process of its own. A lock keeps two reads in one
process from interleaving.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pyogrio

#: GDAL settings for the time of a read (documented GDAL configuration options). External access
#: from SQL inside a GeoPackage stays off even if the environment turned it on; Python code in a
#: VRT stays off (VRT is not registered anyway).
_READ_OPTIONS = {"OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO", "GDAL_VRT_ENABLE_PYTHON": "NO"}

_lock = threading.Lock()


class DriverPolicyError(RuntimeError):
    """GDAL could not be narrowed to one driver; the file is not opened."""


def _register(skip: object) -> None:
    # pyogrio registers GDAL's drivers on import through this function (GDALAllRegister, which
    # applies GDAL_SKIP at its end); it is called again with a new GDAL_SKIP.
    from pyogrio._ogr import _register_drivers

    pyogrio.set_gdal_config_options({"GDAL_SKIP": skip})
    _register_drivers()


@contextmanager
def only_driver(driver: str) -> Iterator[None]:
    """Within the block, ``driver`` is the only vector driver GDAL has in this process.

    Examples
    --------
    >>> with only_driver("GeoJSON"):  # doctest: +SKIP
    ...     frame = pyogrio.read_dataframe("upload.geojson")
    """
    with _lock:
        everything = set(pyogrio.list_drivers())
        if driver not in everything:
            raise DriverPolicyError(f"GDAL has no driver {driver!r}")
        saved = {name: pyogrio.get_gdal_config_option(name)
                 for name in (*_READ_OPTIONS, "GDAL_SKIP")}
        try:
            _register(",".join(sorted(everything - {driver})))
            left = set(pyogrio.list_drivers())
            if left != {driver}:
                raise DriverPolicyError(f"GDAL kept the drivers {sorted(left)}, not only {driver}")
            pyogrio.set_gdal_config_options(_READ_OPTIONS)
            yield
        finally:
            skip = saved.pop("GDAL_SKIP")
            pyogrio.set_gdal_config_options(saved)
            _register(skip)
