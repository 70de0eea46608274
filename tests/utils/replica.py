"""A primary and a streaming replica: two private clusters, the replica made by pg_basebackup -R."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from geo_service.db.local import SUPERUSER, LocalCluster
from tests.utils.db import free_port


class ReplicaPair:
    """``primary`` is the project's own embedded cluster; ``replica`` a hot standby of it.

    The replica is a copy of the primary's cluster (same password), so it is started with
    ``pg_ctl`` directly: LocalCluster.start() would try to create the database and PostGIS,
    which a read-only standby refuses.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="geo-service-replica-"))
        os.chmod(self.folder, 0o755)
        self.primary = LocalCluster(self.folder / "primary", free_port())
        self.primary_url = self.primary.start()
        self.replica = LocalCluster(self.folder / "replica", free_port())
        self.replica_url = self.primary_url.replace(f":{self.primary.port}/",
                                                    f":{self.replica.port}/")

    def start_replica(self) -> None:
        """Base backup of the primary with a standby.signal and primary_conninfo, then start."""
        self.replica.data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.primary.password_file, self.replica.password_file)
        pgdata = self.replica.data_dir / "postgres"
        pgdata.mkdir(mode=0o700)
        logfile = self.replica.data_dir / "postgres.log"
        logfile.touch()
        if os.geteuid() == 0:
            user = pwd.getpwnam(SUPERUSER)
            for path in (pgdata, logfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        bindir = self.primary.bindir()
        password = self.primary.password_file.read_text().strip()
        conninfo = (f"host=127.0.0.1 port={self.primary.port} user={SUPERUSER} "
                    f"password={password} application_name=replica")
        self.replica._run([str(bindir / "pg_basebackup"), "-D", str(pgdata), "-R",
                           "-X", "stream", "-c", "fast", "-d", conninfo])
        self.replica._run([str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(logfile),
                           "-o", f"-p {self.replica.port}", "-w", "-t", "60", "start"])

    def wait_until_replayed(self, timeout: float = 20) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary_url, autocommit=True) as conn:
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.replica_url, autocommit=True) as conn:
            while True:
                done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                    (lsn,)).fetchone()[0]  # type: ignore[index]
                if done:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("the replica did not catch up")
                time.sleep(0.05)

    def stop_replica(self) -> None:
        self.replica.stop()

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
