"""The import and export commands as a person uses them: German sentences and exit codes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from geo_service.cli import app
from tests.conftest import ROOT
from tests.io.files import playgrounds, write


def invoke(db_url: str, *args: str):  # type: ignore[no-untyped-def]
    env = {"GEO_SERVICE_DATABASE_URL": db_url, "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers")}
    return CliRunner().invoke(app, list(args), env=env)


def test_broken_file_gives_a_german_sentence(db_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "kaputt.gpkg"
    broken.write_bytes(b"\x00garbage" * 100)
    result = invoke(db_url, "import", "spielplaetze", str(broken))
    assert result.exit_code == 2
    assert "Fehler: Die Datei kaputt.gpkg lässt sich nicht als GeoPackage lesen" in result.output
    assert "Traceback" not in result.output


def test_rejected_feature_exits_2_and_dry_run_stores_nothing(db_url: str, tmp_path: Path) -> None:
    data = playgrounds(2)
    data.loc[1, "age_group"] = "Senioren"
    bad = invoke(db_url, "import", "spielplaetze", str(write(data, tmp_path / "bad.geojson")))
    assert bad.exit_code == 2 and "Objekt 2 (»Spielplatz 1«): »age_group«" in bad.output
    good = write(playgrounds(2), tmp_path / "good.geojson")
    dry = invoke(db_url, "import", "spielplaetze", str(good), "--dry-run")
    assert dry.exit_code == 0 and "Probelauf" in dry.output


def test_import_then_export(db_url: str, tmp_path: Path) -> None:
    good = write(playgrounds(2), tmp_path / "good.geojson")
    assert invoke(db_url, "import", "spielplaetze", str(good), "--replace").exit_code == 0
    out = tmp_path / "out.gpkg"
    result = invoke(db_url, "export", "spielplaetze", str(out), "--crs", "EPSG:25832")
    assert result.exit_code == 0, result.output
    assert "2 Objekte nach" in result.output and out.exists()
