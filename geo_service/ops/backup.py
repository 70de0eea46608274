"""Backup and restore of the whole database with PostgreSQL's own pg_dump and pg_restore.

Whole database, custom format: every table there is (layers, custom-layer features, keys,
history, reports, the migration state), PostGIS geometries included. No table list, so tables
that later releases add are backed up without a change here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geo_service.db.local import PG_ROOT, installed_versions


class BackupError(RuntimeError):
    """A backup or restore cannot be done; the message is one German sentence saying why."""


@dataclass
class Target:
    """Where to connect: a conninfo without the password (safe on a command line) and the
    password for ``PGPASSWORD`` (never on the command line, where ``ps`` shows it)."""

    conninfo: str
    password: str | None
    where: str

    @classmethod
    def from_url(cls, url: str) -> Target:
        try:
            params = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://")
                                      .replace("postgresql+asyncpg://", "postgresql://"))
        except psycopg.ProgrammingError as exc:
            raise BackupError(f"Die Datenbank-URL ist ungültig: {exc}.") from exc
        password = params.pop("password", None)
        where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
        return cls(make_conninfo(**params), str(password) if password is not None else None, where)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.conninfo, password=self.password, autocommit=True,
                                   connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise BackupError(f"Die Datenbank {self.where} ist nicht erreichbar: {reason}.") from exc


def server_major(target: Target) -> int:
    with target.connect() as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]


def client_bindir(major: int, override: Path | None = None) -> Path:
    """pg_dump/pg_restore for a server of version ``major``: the same major version if it is
    installed, else the newest newer one (pg_dump reads older servers, not newer ones)."""
    if override is not None:
        if not (override / "pg_dump").exists():
            raise BackupError(f"In {override} (GEO_SERVICE_PG_BIN_DIR) gibt es kein pg_dump.")
        return override
    versions = [v for v in installed_versions() if (PG_ROOT / str(v) / "bin/pg_dump").exists()]
    if not versions:  # a client-only install (e.g. postgresql-client-15) has no initdb
        versions = sorted(int(p.name) for p in PG_ROOT.glob("*") if p.name.isdigit()
                          and (p / "bin/pg_dump").exists()) if PG_ROOT.is_dir() else []
    if major in versions:
        return PG_ROOT / str(major) / "bin"
    newer = [v for v in versions if v > major]
    if newer:
        return PG_ROOT / str(newer[-1]) / "bin"
    on_path = shutil.which("pg_dump")
    if on_path:
        return Path(on_path).parent
    raise BackupError(
        f"pg_dump für PostgreSQL {major} fehlt: bitte 'apt-get install postgresql-client-{major}' "
        "ausführen oder GEO_SERVICE_PG_BIN_DIR auf den Ordner mit pg_dump setzen."
    )


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fehler" in line.lower()]
    return (errors or lines or ["ohne Meldung"])[-1].strip()


def backup(url: str, path: Path, *, bindir: Path | None = None) -> int:
    """Dump the whole database at ``url`` into ``path`` (custom format); returns its size.

    The dump goes to ``path.part`` first and is renamed only when complete, so a failed or
    interrupted backup never leaves a file that looks like a good one.

    Examples
    --------
    >>> backup("postgresql://u:pw@db:5432/quartierskarte", Path("nightly.dump"))  # doctest: +SKIP
    1843200
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise BackupError(f"Den Ordner {path.parent} gibt es nicht.")
    target = Target.from_url(url)
    tools = client_bindir(server_major(target), bindir)
    part = path.with_name(path.name + ".part")
    result = subprocess.run(
        [str(tools / "pg_dump"), "--format=custom", f"--file={part}", f"--dbname={target.conninfo}"],
        env=target.env(), capture_output=True, text=True,
    )
    if result.returncode != 0:
        part.unlink(missing_ok=True)
        raise BackupError(f"pg_dump ist fehlgeschlagen: {_last_line(result)}.")
    part.chmod(0o600)  # contact details and key hashes are in there
    part.replace(path)
    return path.stat().st_size


def user_objects(conn: psycopg.Connection) -> list[str]:
    """Tables, views and sequences that do not belong to an extension (PostGIS's
    ``spatial_ref_sys`` does): what makes a database not empty."""
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype = 'e')
        ORDER BY 1
        """
    ).fetchall()
    return [r[0] for r in rows]


def restore(url: str, path: Path, *, bindir: Path | None = None) -> None:
    """Restore a dump made by :func:`backup` into the empty database at ``url``.

    All or nothing (one transaction): a failed restore leaves the database as empty as before.
    Owners and grants of the source are not restored; everything belongs to the URL's user.
    """
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"Die Datei {path} gibt es nicht.")
    with path.open("rb") as fh:
        if fh.read(5) != b"PGDMP":
            raise BackupError(
                f"{path} ist keine Sicherung im Custom-Format von pg_dump "
                "(erstellt mit 'geo-service db backup')."
            )
    target = Target.from_url(url)
    with target.connect() as conn:
        found = user_objects(conn)
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
    if found:
        raise BackupError(
            f"Die Zieldatenbank {target.where} ist nicht leer ({len(found)} Tabellen und Sequenzen, "
            f"z. B. {found[0]}): bitte in eine leere Datenbank zurückspielen."
        )
    tools = client_bindir(major, bindir)
    result = subprocess.run(
        [str(tools / "pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
         "--exit-on-error", f"--dbname={target.conninfo}", str(path)],
        env=target.env(), capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise BackupError(
            f"Das Zurückspielen ist fehlgeschlagen, die Datenbank blieb unverändert: "
            f"{_last_line(result)}."
        )
