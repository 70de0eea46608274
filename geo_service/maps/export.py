""""Download what I see": a layer's public data inside a bbox, written with the exporter's code
in a process of its own, at most ``export_max_features`` features and ``export_concurrency``
exports at once.

Why a process: an export turns tens of thousands of rows into a file, which is Python work
under the GIL. In a thread of the server, two such exports made every other request of the
process wait for the GIL (single-item reads went from tens of milliseconds to a second). In a
child process they cost the server nothing but a pipe; the child's memory is returned when it
exits; a request that is cancelled (timed out, client gone) kills its child and frees the slot
at once; and a crash in a file driver takes down the child, not the service.

Why per process, not shared through PostgreSQL: what an export uses up is the CPU and memory
of the machine that writes it, and a per-process limit bounds exactly that on every replica
while capacity still grows with the replicas. How often one client may ask is the rate
limiter's job, which does count across replicas.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import orjson

from geo_service.errors import Overloaded
from geo_service.io.exporter import Export
from geo_service.layers import Layer
from geo_service.settings import Settings

log = logging.getLogger(__name__)

#: How long a request waits for a free export slot before it is told to retry.
SLOT_WAIT_S = 10.0

BBox = tuple[float, float, float, float]


class ExportSlots:
    """This process's export slots; each is held until its child process has ended."""

    def __init__(self, size: int) -> None:
        self._free = asyncio.Semaphore(size)

    async def export(self, job: dict[str, Any]) -> Export:
        try:
            await asyncio.wait_for(self._free.acquire(), SLOT_WAIT_S)
        except TimeoutError:
            raise Overloaded("Gerade laufen zu viele Exporte; bitte in einigen Sekunden erneut "
                             "versuchen.", retry_after=5) from None
        try:
            return await _run_child(job)
        finally:
            self._free.release()


def slots_of(state: object, settings: Settings) -> ExportSlots:
    """This process's export slots (made on first use, kept on ``app.state``)."""
    slots = getattr(state, "export_slots", None)
    if slots is None:
        slots = ExportSlots(settings.export_concurrency)
        state.export_slots = slots  # type: ignore[attr-defined]
    return slots


async def export_bbox(state: object, settings: Settings, url: str, layer: Layer, path: Path,
                      bbox: BBox | None) -> Export:
    """Write the features of ``layer`` that intersect ``bbox`` to ``path`` (format by suffix)."""
    job = {"url": url, "layer": layer.model_dump(mode="json"), "path": str(path),
           "bbox": list(bbox) if bbox else None, "max_features": settings.export_max_features,
           "statement_timeout_ms": settings.statement_timeout_ms}
    return await slots_of(state, settings).export(job)


async def _run_child(job: dict[str, Any]) -> Export:
    # The job (with the database password) goes through stdin, never the command line.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "geo_service.maps.export", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await child.communicate(orjson.dumps(job))
    except BaseException:  # cancelled: the export is abandoned, and so is its process
        if child.returncode is None:
            child.kill()
        raise
    if child.returncode != 0:
        log.error("export of %s failed (exit %s): %s", job["layer"]["id"], child.returncode,
                  err.decode("utf-8", "replace")[-2000:])
        raise Overloaded("Der Export konnte gerade nicht erstellt werden; bitte erneut "
                         "versuchen.", retry_after=5)
    done = orjson.loads(out)
    return Export(int(done["features"]), bool(done["truncated"]))


def main() -> None:
    """The child: read the job from stdin, write the file, answer with the counts."""
    import os

    os.nice(10)  # batch work: the server's own requests come first on a busy machine
    from geo_service.io.exporter import write_layer

    job = orjson.loads(sys.stdin.buffer.read())
    result = write_layer(job["url"], Layer.model_validate(job["layer"]), Path(job["path"]),
                         bbox=tuple(job["bbox"]) if job["bbox"] else None,
                         max_features=job["max_features"],
                         statement_timeout_ms=job["statement_timeout_ms"])
    sys.stdout.buffer.write(orjson.dumps({"features": result.features,
                                          "truncated": result.truncated}))


if __name__ == "__main__":
    main()
