"""``geo-service import`` refuses the same hostile files as the HTTP import, with a sentence: the
command line reads through the same reader, in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.io.files import playgrounds, write, zip_bomb, zip_shapefile
from tests.utils.builders import count
from tests.utils.listener import Listener


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env.update({"GEO_SERVICE_DATABASE_URL": db_url, "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers")})
    return subprocess.run([sys.executable, "-m", "geo_service.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_refuses_hostile_files_with_a_sentence(db_url: str, tmp_path: Path) -> None:
    before = count(db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'")
    with Listener() as listener:
        files = {
            "vrt.geojson": ((f'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/vsicurl/'
                             f'{listener.url}/cli.csv</SrcDataSource></OGRVRTLayer>'
                             "</OGRVRTDataSource>"), "GDAL-VRT-Dokument"),
            "link.geojson": (json.dumps({"type": "FeatureCollection", "crs": {
                "type": "link", "properties": {"href": f"{listener.url}/crs"}}, "features": []}),
                "»crs«"),
            "passwd.csv.geojson": ("CSV:/etc/passwd", "keine JSON-Datei"),
        }
        for name, (text, named) in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
            result = _cli(db_url, "import", "spielplaetze", str(tmp_path / name))
            assert result.returncode == 2, result.stdout + result.stderr
            assert f"Fehler: Die Datei {name}" in result.stderr and named in result.stderr
            assert "Traceback" not in result.stderr and "root:x:0:0" not in result.stderr
        bomb = zip_bomb(tmp_path / "bombe.zip", unpacked_mb=400)
        result = _cli(db_url, "import", "spielplaetze", str(bomb))
        assert result.returncode == 2 and "entpackt größer als 200 MB" in result.stderr
        assert listener.requests == []
    assert count(db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze'") == before


def test_cli_still_imports_ordinary_files(db_url: str, tmp_path: Path) -> None:
    shp = zip_shapefile(playgrounds(2), tmp_path / "shp", "spiel", "utf-8")
    good = write(playgrounds(3), tmp_path / "gut.geojson")
    for path, n in ((shp, 2), (good, 3)):
        result = _cli(db_url, "import", "spielplaetze", str(path), "--dry-run")
        assert result.returncode == 0, result.stderr
        assert f"alle {n} Objekte sind in Ordnung" in result.stdout
