"""The embedded default database: a private PostgreSQL cluster in the data folder, loopback only."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import secrets
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DB_NAME = "quartierskarte"
SUPERUSER = "postgres"
PG_ROOT = Path("/usr/lib/postgresql")


class LocalClusterError(RuntimeError):
    """The embedded cluster cannot be created or started; the message says what to do."""


def installed_versions() -> list[int]:
    """Major versions of PostgreSQL whose server binaries are installed, oldest first."""
    if not PG_ROOT.is_dir():
        return []
    found = [int(p.name) for p in PG_ROOT.iterdir() if p.name.isdigit() and (p / "bin/initdb").exists()]
    return sorted(found)


def _is_root() -> bool:
    return os.geteuid() == 0


def _reachable_by(user: str, path: Path) -> bool:
    """Whether ``user`` may traverse every parent of ``path`` (initdb needs that)."""
    probe = path
    while not probe.exists():
        probe = probe.parent
    result = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(probe)], capture_output=True
    )
    return result.returncode == 0


@dataclass
class LocalCluster:
    """A PostgreSQL cluster owned by this service.

    Parameters
    ----------
    data_dir
        The service's data folder; the cluster lives in ``data_dir/postgres``.
    port
        TCP port on 127.0.0.1.

    Examples
    --------
    >>> cluster = LocalCluster(Path(".data"), 55432)  # doctest: +SKIP
    >>> cluster.start()  # doctest: +SKIP
    'postgresql://postgres:...@127.0.0.1:55432/quartierskarte'
    """

    data_dir: Path
    port: int

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()

    # -- where things are -------------------------------------------------
    @property
    def pgdata(self) -> Path:
        """The cluster folder. As root, it must be reachable by the ``postgres`` user."""
        inside = self.data_dir / "postgres"
        pointer = self.data_dir / "postgres.location"
        if pointer.exists():
            return Path(pointer.read_text().strip())
        if _is_root() and not inside.exists() and not _reachable_by(SUPERUSER, self.data_dir):
            # e.g. a clone under /root (mode 700): keep the cluster where postgres can reach it,
            # and remember where, so restarts find it again.
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            return Path("/var/lib/geo-service") / digest / "postgres"
        return inside

    @property
    def password_file(self) -> Path:
        return self.data_dir / "postgres.password"

    def _owner(self) -> str | None:
        """The system user that runs the server: ``postgres`` when we are root, else ourselves."""
        return SUPERUSER if _is_root() else None

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        owner = self._owner()
        cmd = ["runuser", "-u", owner, "--", *args] if owner else args
        result = subprocess.run(cmd, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise LocalClusterError(
                f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()}"
            )
        return result

    def bindir(self) -> Path:
        """Binaries of the major version the cluster was created with (or the newest one)."""
        versions = installed_versions()
        if not versions:
            raise LocalClusterError(
                "No PostgreSQL server found under /usr/lib/postgresql. Install it with "
                "'apt-get install postgresql postgresql-15-postgis-3' or run scripts/start, "
                "or set GEO_SERVICE_DATABASE_URL to use an existing server."
            )
        version_file = self.pgdata / "PG_VERSION"
        if version_file.exists():
            created = int(version_file.read_text().strip())
            if created not in versions:
                raise LocalClusterError(
                    f"The embedded cluster in {self.pgdata} was created with PostgreSQL {created}, "
                    f"but only {', '.join(map(str, versions))} is installed. Either install "
                    f"postgresql-{created} and postgresql-{created}-postgis-3 again, or move the data: "
                    f"'geo-service db backup FILE' with the old version, remove {self.pgdata}, then "
                    "'geo-service db start && geo-service db restore FILE' (see README, 'Upgrading "
                    "PostgreSQL'), or run pg_upgrade."
                )
            return PG_ROOT / str(created) / "bin"
        return PG_ROOT / str(versions[-1]) / "bin"

    # -- state ------------------------------------------------------------
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialized():
            return False
        result = self._run([str(self.bindir() / "pg_ctl"), "-D", str(self.pgdata), "status"], check=False)
        return result.returncode == 0

    def url(self, database: str = DB_NAME) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{database}"

    # -- life cycle -------------------------------------------------------
    def init(self) -> None:
        """Create the cluster (password authentication, loopback only)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self.pgdata
        if pgdata != self.data_dir / "postgres":
            (self.data_dir / "postgres.location").write_text(str(pgdata))
        pgdata.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24))
            self.password_file.chmod(0o600)
        owner = self._owner()
        with tempfile.NamedTemporaryFile("w", delete=False, dir=pgdata.parent) as pw:
            pw.write(self.password_file.read_text().strip())
        if owner:
            user = pwd.getpwnam(owner)
            for path in (pgdata, Path(pw.name)):
                os.chown(path, user.pw_uid, user.pw_gid)
        pgdata.chmod(0o700)
        try:
            self._run(
                [
                    str(self.bindir() / "initdb"),
                    "-D", str(pgdata), "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8",
                    "--auth=scram-sha-256", f"--pwfile={pw.name}",
                ]
            )
        finally:
            os.unlink(pw.name)
        conf = pgdata / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# geo-service: private cluster, loopback only\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "fsync = on\n"
            )

    def start(self) -> str:
        """Start (or reuse) the cluster, create the database with PostGIS, return its URL."""
        if not self.initialized():
            log.info("creating embedded PostgreSQL cluster in %s", self.pgdata)
            self.init()
        if not self.running():
            logfile = self.pgdata.parent / "postgres.log"
            if self._owner():
                logfile.touch()
                user = pwd.getpwnam(SUPERUSER)
                os.chown(logfile, user.pw_uid, user.pw_gid)
            self._run(
                [
                    str(self.bindir() / "pg_ctl"), "-D", str(self.pgdata), "-l", str(logfile),
                    "-o", f"-p {self.port}", "-w", "-t", "60", "start",
                ]
            )
        self._ensure_database()
        return self.url()

    def stop(self) -> bool:
        """Stop the cluster cleanly (fast shutdown). Returns False when it was not running."""
        if not self.running():
            return False
        self._run([str(self.bindir() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        return True

    def status(self) -> dict[str, object]:
        return {
            "pgdata": str(self.pgdata),
            "initialized": self.initialized(),
            "running": self.running(),
            "port": self.port,
            "version": (self.pgdata / "PG_VERSION").read_text().strip() if self.initialized() else None,
        }

    def _ensure_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        with psycopg.connect(self.url(), autocommit=True) as conn:
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except psycopg.errors.FeatureNotSupported as exc:  # pragma: no cover - install problem
                raise LocalClusterError(
                    "PostGIS is not installed for this PostgreSQL: "
                    "'apt-get install postgresql-15-postgis-3' (scripts/start does it)."
                ) from exc
            except psycopg.errors.UndefinedFile as exc:
                raise LocalClusterError(
                    "PostGIS is not installed for this PostgreSQL: "
                    "'apt-get install postgresql-15-postgis-3' (scripts/start does it)."
                ) from exc


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0

