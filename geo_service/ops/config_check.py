"""``geo-service config check``: the settings (environment and .env) and the layer files,
with every problem named, not just the first."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from geo_service.settings import Settings

PREFIX = "GEO_SERVICE_"
#: Read by scripts/ and the test suite, not by the service.
NOT_SETTINGS = {"GEO_SERVICE_TESTING", "GEO_SERVICE_SKIP_BENCH_SMOKE"}


def _given(env_file: Path | None) -> dict[str, str]:
    """GEO_SERVICE_* names with their values, from the .env file and the environment."""
    given: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        given.update({k.upper(): v or "" for k, v in dotenv_values(env_file).items()
                      if k.upper().startswith(PREFIX)})
    given.update({k.upper(): v for k, v in os.environ.items() if k.upper().startswith(PREFIX)})
    return given


def _unknown_names(given: dict[str, str]) -> list[str]:
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    problems = []
    for name in sorted(set(given) - known - NOT_SETTINGS):
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (gemeint: {close[0]}?)" if close else ""
        problems.append(f"{name}: keine Einstellung von Quartierskarte, wird ignoriert{hint}.")
    return problems


def _settings(env_file: Path | None) -> tuple[Settings | None, list[str]]:
    try:
        return Settings(_env_file=env_file), []  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err.get("loc") else "?"
            shown = "" if "password" in field or "url" in field else f" (Wert: {err.get('input')!r})"
            problems.append(f"{PREFIX}{field.upper()}: {err['msg']}{shown}.")
        return None, problems


def _semantics(settings: Settings) -> list[str]:
    problems = []
    for name in ("database_url", "database_read_url"):
        url = getattr(settings, name)
        if url:
            try:
                parsed = make_url(url)
            except Exception:  # noqa: BLE001 - any parse failure is the finding
                problems.append(f"{PREFIX}{name.upper()}: keine gültige Datenbank-URL.")
                continue
            if not parsed.drivername.startswith("postgresql"):
                problems.append(f"{PREFIX}{name.upper()}: muss mit postgresql:// beginnen, "
                                f"nicht {parsed.drivername}://.")
    if settings.database_read_url and not settings.database_url:
        problems.append(f"{PREFIX}DATABASE_READ_URL ist gesetzt, {PREFIX}DATABASE_URL nicht: "
                        "ein Lesereplikat braucht einen Primärserver, nicht das eingebettete "
                        "Cluster.")
    if settings.service_area_file and not settings.service_area_file.is_file():
        problems.append(f"{PREFIX}SERVICE_AREA_FILE: die Datei {settings.service_area_file} "
                        "gibt es nicht.")
    if settings.pg_bin_dir and not (settings.pg_bin_dir / "pg_dump").exists():
        problems.append(f"{PREFIX}PG_BIN_DIR: in {settings.pg_bin_dir} gibt es kein pg_dump.")
    if settings.default_limit > settings.max_limit:
        problems.append(f"{PREFIX}DEFAULT_LIMIT ({settings.default_limit}) ist größer als "
                        f"{PREFIX}MAX_LIMIT ({settings.max_limit}).")
    return problems


def _layers(folder: Path) -> tuple[list[str], list[str]]:
    """(layer ids, problems), every file checked on its own, then the set as a whole."""
    from geo_service.layers import LayerConfigError, Registry, load_layer_file

    if not folder.is_dir():
        return [], [f"{PREFIX}LAYERS_DIR: den Ordner {folder} gibt es nicht."]
    problems, layers = [], []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        problems.append(f"{PREFIX}LAYERS_DIR: in {folder} liegt keine Ebene (*.yaml).")
    for path in files:
        try:
            layers.append(load_layer_file(path))
        except LayerConfigError as exc:
            problems.append(str(exc) if path.name in str(exc) else f"{path}: {exc}")
        except Exception as exc:  # noqa: BLE001 - e.g. YAML syntax: report, keep checking
            problems.append(f"{path}: {type(exc).__name__}: {exc}")
    if not problems:
        try:
            Registry(layers)
        except LayerConfigError as exc:
            problems.append(f"{folder}: {exc}")
    return [layer.id for layer in layers], problems


def check(env_file: Path | None = Path(".env")) -> tuple[list[str], list[str]]:
    """``(summary lines, problems)``; no problems means the configuration can be used."""
    given = _given(env_file)
    problems = _unknown_names(given)
    settings, invalid = _settings(env_file)
    problems += invalid
    summary: list[str] = []
    if settings is not None:
        problems += _semantics(settings)
        ids, layer_problems = _layers(settings.layers_dir)
        problems += layer_problems
        database = "eingebettetes Cluster in " + str(settings.data_dir) if settings.embedded \
            else make_url(settings.database_url).render_as_string(hide_password=True)  # type: ignore[arg-type]
        summary = [f"Datenbank: {database}",
                   f"Lesereplikat: {'ja' if settings.database_read_url else 'nein'}",
                   f"Ebenen ({len(ids)}): {', '.join(ids)}"]
    return summary, problems
