"""The configuration reference cannot drift from the settings; config check names every problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo_service.cli import app as cli
from geo_service.ops.config_doc import render
from geo_service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no GEO_SERVICE_* of the developer's shell, no .env of the clone."""
    import os

    for name in list(os.environ):
        if name.startswith("GEO_SERVICE_") and name != "GEO_SERVICE_TESTING":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_committed_reference_is_generated_from_the_settings() -> None:
    committed = (ROOT / "docs/configuration.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/configuration.md is out of date: run "
        "'geo-service config doc --output docs/configuration.md' and commit it")
    for name, field in Settings.model_fields.items():
        assert f"`GEO_SERVICE_{name.upper()}`" in committed
        assert field.description, f"setting {name} needs a description"


def test_config_doc_prints_the_reference() -> None:
    result = CliRunner().invoke(cli, ["config", "doc"])
    assert result.exit_code == 0
    assert result.output == render()


def test_config_check_accepts_the_shipped_configuration() -> None:
    result = CliRunner().invoke(cli, ["config", "check"],
                                env={"GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers")})
    assert result.exit_code == 0, result.output
    assert "Konfiguration in Ordnung." in result.output
    assert "meeting_places" in result.output


def test_config_check_names_every_problem(tmp_path: Path) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text(
        f"GEO_SERVICE_LAYERS_DIR={ROOT / 'layers'}\n"
        "GEO_SERVICE_DATABSE_URL=postgresql://qk@db/quartierskarte\n"
        "GEO_SERVICE_TRUSTED_PROXIES=10.0.0.0/8,proxy.intern\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", "--env-file", str(env_file)],
                                env={"GEO_SERVICE_PORT": "achttausend"})
    assert result.exit_code == 1
    out = result.output
    assert "GEO_SERVICE_DATABSE_URL" in out and "gemeint: GEO_SERVICE_DATABASE_URL?" in out
    assert "GEO_SERVICE_PORT" in out and "achttausend" in out
    assert "GEO_SERVICE_TRUSTED_PROXIES" in out and "proxy.intern" in out


def test_config_check_reports_every_bad_layer_file(tmp_path: Path) -> None:
    layers = tmp_path / "layers"
    shutil.copytree(ROOT / "layers", layers)
    (layers / "kaputt.yaml").write_text("id: [unclosed\n  title: x\n", encoding="utf-8")
    spiel = layers / "spielplaetze.yaml"
    text = spiel.read_text(encoding="utf-8")
    assert "geometry_type: Point" in text
    spiel.write_text(text.replace("geometry_type: Point", "geometry_type: Kreis"),
                     encoding="utf-8")
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"GEO_SERVICE_LAYERS_DIR={layers}\n"
        "GEO_SERVICE_DATABASE_URL=postgresql://qk:geheim@db/quartierskarte\n"
        "GEO_SERVICE_DATABASE_READ_URL=mysql://qk@replica/quartierskarte\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", "--env-file", str(env_file)])
    assert result.exit_code == 1
    out = result.output
    assert "kaputt.yaml" in out
    assert "spielplaetze.yaml: geometry_type" in out
    assert "GEO_SERVICE_DATABASE_READ_URL: muss mit postgresql:// beginnen" in out
    assert "geheim" not in out  # passwords are never printed
