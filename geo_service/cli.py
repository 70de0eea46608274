"""The ``geo-service`` command line: serve, database life cycle, import, export, layers, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from geo_service.db.engine import local_cluster, resolve_url
from geo_service.db.local import LocalClusterError
from geo_service.layers import LayerConfigError, Registry
from geo_service.settings import Settings

app = typer.Typer(help="Quartierskarte – Treffpunkte, Angebote und Projekte der Quartiersarbeit.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The database: embedded cluster life cycle and migrations.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="API keys for editors and admins.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
privacy_app = typer.Typer(help="Personal data (GDPR).", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


def _settings() -> Settings:
    return Settings()


def fail(message: str, code: int = 1) -> None:
    """Print one sentence a person can act on, and stop."""
    typer.secho(f"Fehler: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def database_url(settings: Settings, *, start: bool = True) -> str:
    try:
        return resolve_url(settings, start=start)
    except LocalClusterError as exc:
        fail(str(exc))
    except RuntimeError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def registry(settings: Settings) -> Registry:
    try:
        return Registry.from_dir(settings.layers_dir)
    except LayerConfigError as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


# -- database ---------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start (or reuse) the embedded PostgreSQL cluster in the data folder."""
    settings = _settings()
    if not settings.embedded:
        typer.echo("GEO_SERVICE_DATABASE_URL is set: nothing to start.")
        return
    url = database_url(settings)
    typer.echo(f"embedded database running on 127.0.0.1:{settings.embedded_port} "
               f"({url.rsplit('/', 1)[-1]})")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded cluster cleanly."""
    settings = _settings()
    if not settings.embedded:
        typer.echo("GEO_SERVICE_DATABASE_URL is set: the embedded cluster is not used.")
        return
    try:
        stopped = local_cluster(settings).stop()
    except LocalClusterError as exc:
        fail(str(exc))
    typer.echo("embedded database stopped" if stopped else "embedded database was not running")


@db_app.command("status")
def db_status() -> None:
    """Show where the database is and whether it runs."""
    settings = _settings()
    if not settings.embedded:
        typer.echo(json.dumps({"mode": "external"}))
        return
    try:
        status = local_cluster(settings).status()
    except LocalClusterError as exc:
        fail(str(exc))
    typer.echo(json.dumps({"mode": "embedded", **status}, indent=2))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Migrate the schema to the newest revision (once, under an advisory lock)."""
    from geo_service.db.engine import current_revision, upgrade

    url = database_url(_settings())
    upgrade(url, revision)
    typer.echo(f"database schema at revision {current_revision(url)}")


def _ops_url(settings: Settings, url: str | None) -> tuple[str, bool]:
    """The URL to back up from or restore into, and whether the embedded cluster was started
    for it (so it is stopped again afterwards)."""
    if url:
        return url, False
    started = settings.embedded and not local_cluster(settings).running()
    return database_url(settings), started


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(help="Dump file to write (pg_dump custom format)")],
    url: Annotated[Optional[str], typer.Option("--url", help="Database URL instead of the "
                                               "configured or embedded one")] = None,
) -> None:
    """Back up the whole database (all layers, keys, history) with pg_dump."""
    from geo_service.ops.backup import BackupError, backup

    settings = _settings()
    target, started = _ops_url(settings, url)
    try:
        size = backup(target, path, bindir=settings.pg_bin_dir)
    except BackupError as exc:
        fail(str(exc))
    finally:
        if started:
            local_cluster(settings).stop()
    typer.echo(f"Sicherung geschrieben: {path} ({size / 1e6:.1f} MB)")


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(help="Dump file made by 'geo-service db backup'")],
    url: Annotated[Optional[str], typer.Option("--url", help="Empty database to restore into, "
                                               "instead of the configured or embedded one")] = None,
) -> None:
    """Restore a backup into an empty database (all or nothing)."""
    from geo_service.db.engine import current_revision, head_revision
    from geo_service.ops.backup import BackupError, restore

    settings = _settings()
    target, started = _ops_url(settings, url)
    try:
        restore(target, path, bindir=settings.pg_bin_dir)
        revision = current_revision(target)
    except BackupError as exc:
        fail(str(exc))
    finally:
        if started:
            local_cluster(settings).stop()
    typer.echo(f"Sicherung {path} zurückgespielt (Schema-Revision {revision}).")
    if revision != head_revision():
        typer.echo("Die Sicherung stammt aus einer älteren Version: jetzt 'geo-service db upgrade' "
                   "ausführen.")


# -- layers, import, export, demo -------------------------------------------
@app.command("layers")
def list_layers() -> None:
    """List the registered layers."""
    for layer in registry(_settings()):
        typer.echo(f"{layer.id:<20} {layer.geometry_type:<13} {layer.licence:<16} {layer.title.de}")


@app.command("import")
def import_file(
    layer: Annotated[str, typer.Argument(help="Layer id (see 'geo-service layers')")],
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, zipped Shapefile or CSV")],
    crs: Annotated[Optional[str], typer.Option(help="CRS of a CSV's x/y, e.g. EPSG:25832")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; store nothing")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the layer's data")] = False,
    file_layer: Annotated[Optional[str], typer.Option(help="Layer inside a GeoPackage")] = None,
) -> None:
    """Import a GIS file into a layer: all or nothing, with a report of rejected features."""
    from geo_service.io.importer import ImportError_, import_path

    settings = _settings()
    reg = registry(settings)
    url = database_url(settings)
    try:
        report = import_path(
            url, reg, layer, path, settings=settings, crs=crs, dry_run=dry_run,
            replace=replace, file_layer=file_layer,
        )
    except ImportError_ as exc:
        fail(str(exc), 2)
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(2)


@app.command("export")
def export_layer(
    layer: Annotated[str, typer.Argument(help="Layer id")],
    path: Annotated[Path, typer.Argument(help="Output file: .geojson, .gpkg or .csv")],
    crs: Annotated[str, typer.Option(help="Output CRS, e.g. EPSG:25832")] = "EPSG:4326",
) -> None:
    """Export a layer's public data to GeoJSON, GeoPackage or CSV."""
    from geo_service.io.exporter import ExportError, export_path

    settings = _settings()
    reg = registry(settings)
    url = database_url(settings)
    try:
        count = export_path(url, reg, layer, path, crs=crs)
    except ExportError as exc:
        fail(str(exc), 2)
    typer.echo(f"{count} Objekte nach {path} exportiert ({crs}).")


@app.command("demo")
def load_demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only into an empty database")] = False,
) -> None:
    """Load the demo quartiers, meeting places, offers and projects from data/."""
    from geo_service.demo import load_demo as load

    settings = _settings()
    url = database_url(settings)
    typer.echo(load(url, registry(settings), settings=settings, if_empty=if_empty))


# -- keys and privacy ---------------------------------------------------------
@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="editor or admin")],
    layers: Annotated[Optional[str], typer.Option(help="Layers an editor may change, comma separated")] = None,
    districts: Annotated[Optional[str], typer.Option(help="Only features in quartiers of these districts")] = None,
    organisation: Annotated[Optional[str], typer.Option(help="Only records of this organisation")] = None,
    label: Annotated[Optional[str], typer.Option(help="A note on who holds the key")] = None,
) -> None:
    """Create an API key and print it (only the key; it is shown this once)."""
    from geo_service.auth import ROLES
    from geo_service.auth import create_key as create

    settings = _settings()
    reg = registry(settings)
    if role not in ROLES:
        fail(f"--role muss editor oder admin sein, nicht '{role}'.")
    names = [n.strip() for n in (layers or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in reg]
    if unknown:
        fail(f"Unbekannte Ebene(n) {', '.join(unknown)}. Vorhanden: {', '.join(reg.ids())}.")
    if role == "editor" and not names:
        fail("Ein editor-Schlüssel braucht --layers (welche Ebenen er bearbeiten darf).")
    key = create(database_url(settings), role=role, layers=names,
                 districts=[d.strip() for d in (districts or "").split(",") if d.strip()],
                 organisation=organisation, label=label)
    typer.echo(key.token)


@keys_app.command("revoke")
def revoke_key(key: Annotated[str, typer.Argument(help="The key or its prefix")]) -> None:
    """Revoke a key at once (on every replica: keys live in the database)."""
    from geo_service.auth import revoke_key as revoke

    if revoke(database_url(_settings()), key):
        typer.echo("Schlüssel widerrufen.")
    else:
        fail("Kein aktiver Schlüssel mit diesem Präfix gefunden.")


@keys_app.command("list")
def list_keys() -> None:
    """List keys (prefix, role, grants; never the secret)."""
    from geo_service.auth import list_keys as rows

    for prefix, role, layers, districts, org, label, created, revoked in rows(database_url(_settings())):
        state = f"widerrufen {revoked:%Y-%m-%d}" if revoked else "aktiv"
        typer.echo(f"{prefix}  {role:<6} {','.join(layers) or '*':<30} {','.join(districts) or '-':<20} "
                   f"{org or '-':<20} {label or '-':<20} {created:%Y-%m-%d} {state}")


@privacy_app.command("erase")
def erase_person(
    layer: Annotated[str, typer.Argument(help="Layer id")],
    feature_id: Annotated[Optional[int], typer.Option("--id", help="The item")] = None,
    person: Annotated[Optional[str], typer.Option(help="Every item naming this person")] = None,
    actor: Annotated[str, typer.Option(help="Who asks for the erasure (for the log)")] = "cli",
) -> None:
    """Remove a person's data from items and their whole history, and log that it was done."""
    from geo_service.privacy import erase, find_by_person

    settings = _settings()
    reg = registry(settings)
    target = reg.get(layer)
    if target is None:
        fail(f"Unbekannte Ebene '{layer}'. Vorhanden: {', '.join(reg.ids())}.")
    if (feature_id is None) == (person is None):
        fail("Gib genau eines an: --id NUMMER oder --person NAME.")
    url = database_url(settings)
    ids = [feature_id] if feature_id is not None else find_by_person(url, target, person or "")
    if not ids:
        fail("Keine passenden Einträge gefunden; nichts gelöscht.")
    for fid in ids:
        done = erase(url, target, fid, actor=actor)
        typer.echo(f"{layer} {fid}: {', '.join(done.fields)} gelöscht, "
                   f"{done.history_rows} Versionen der Historie bereinigt.")


# -- configuration ------------------------------------------------------------
config_app = typer.Typer(help="Check the configuration; print its reference.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(
    env_file: Annotated[Path, typer.Option(help="The .env file to read besides the environment")]
    = Path(".env"),
) -> None:
    """Validate the settings (environment and .env) and the layer files; name every problem."""
    from geo_service.ops.config_check import check

    summary, problems = check(env_file)
    for line in summary:
        typer.echo(line)
    if problems:
        typer.secho(f"Fehler: {len(problems)} Problem(e) in der Konfiguration:", fg=typer.colors.RED,
                    err=True)
        for problem in problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1)
    typer.echo("Konfiguration in Ordnung.")


@config_app.command("doc")
def config_doc(
    output: Annotated[Optional[Path], typer.Option(help="Write here instead of printing, e.g. "
                                                   "docs/configuration.md")] = None,
) -> None:
    """Print the configuration reference (Markdown), generated from the settings."""
    from geo_service.ops.config_doc import render

    text = render()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"{output} geschrieben.")


# -- serving ------------------------------------------------------------------
@app.command("serve")
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port")] = None,
    http: Annotated[str, typer.Option(help="HTTP implementation: auto (httptools where "
                                      "installed), h11 or httptools")] = "auto",
) -> None:
    """Run the HTTP service (starting the embedded database when no URL is set).

    A supervising process restarts workers that die; the database keeps running. Ctrl+C stops
    the workers, then the embedded database if this command started it.
    """
    from geo_service.ops.logging import configure_logging
    from geo_service.ops.serving import run_supervised

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    if http not in ("auto", "h11", "httptools"):
        fail(f"--http muss auto, h11 oder httptools sein, nicht '{http}'.")
    started_here = False
    if settings.embedded:
        cluster = local_cluster(settings)
        started_here = not cluster.running()
    url = database_url(settings)
    registry(settings)  # fail fast on a bad layer file
    configure_logging(settings)
    typer.echo(f"Quartierskarte läuft auf http://{host}:{port}/  (Karte: http://{host}:{port}/karte)")
    if settings.metrics_enabled:
        typer.echo(f"Metriken (nur intern): http://{settings.metrics_host}:{settings.metrics_port}/metrics")
    try:
        started = run_supervised(settings, database_url=url, host=host, port=port, http=http)
    except OSError as exc:
        started = False
        typer.secho(f"Fehler: {exc}", fg=typer.colors.RED, err=True)
    finally:
        if started_here:
            local_cluster(settings).stop()
            typer.echo("embedded database stopped")
    if not started:
        fail("Der Dienst konnte nicht starten (siehe die Meldungen oben).", 3)


if __name__ == "__main__":  # pragma: no cover
    app()
