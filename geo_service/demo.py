"""Demo data: the files in ``data/`` loaded through the same importer planners use."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from geo_service.db.engine import sync_engine
from geo_service.layers import Registry
from geo_service.settings import Settings

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

#: Quartiers first (meeting places derive theirs), meeting places before the offers held there.
ORDER = ["quartiers", "meeting_places", "offers", "projects"]


def demo_files(registry: Registry, folder: Path = DATA_DIR) -> list[tuple[str, Path]]:
    """(layer id, file) pairs for every registered layer that has ``data/<id>.geojson``."""
    ids = sorted(registry.ids(), key=lambda i: (ORDER.index(i) if i in ORDER else len(ORDER), i))
    return [(i, folder / f"{i}.geojson") for i in ids if (folder / f"{i}.geojson").exists()]


def database_empty(url: str, registry: Registry) -> bool:
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            for table in ("quartiers", "meeting_places", "offers", "projects", "features"):
                if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar():
                    return False
        return True
    finally:
        engine.dispose()


def load_demo(url: str, registry: Registry, *, settings: Settings, if_empty: bool = False) -> str:
    """Import every demo file; returns a one-line summary per layer."""
    from geo_service.io.importer import import_path

    if if_empty and not database_empty(url, registry):
        return "Datenbank enthält schon Daten: Demodaten nicht geladen."
    lines = []
    for layer_id, path in demo_files(registry):
        report = import_path(url, registry, layer_id, path, settings=settings)
        if not report.ok:
            raise RuntimeError(f"demo data {path.name} is invalid:\n{report.summary()}")
        lines.append(f"{layer_id}: {report.imported} Objekte")
    return "Demodaten geladen – " + ", ".join(lines)
