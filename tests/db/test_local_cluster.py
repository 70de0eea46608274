"""The embedded cluster: as root and as a normal user, restarts keep data, versions are pinned."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.db.local import LocalCluster, LocalClusterError
from tests.utils.db import free_port

ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env.update(GEO_SERVICE_DATA_DIR=str(data_dir), GEO_SERVICE_EMBEDDED_PORT=str(port),
               GEO_SERVICE_LAYERS_DIR=str(ROOT / "layers"))
    return env


def test_cli_start_import_stop_start_keeps_data(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    env = _env(tmp_path / "data", free_port())
    runner = CliRunner()
    gpkg = tmp_path / "punkte.geojson"
    gpkg.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"Spielplatz Dauerhaft","age_group":"0-6"},'
        '"geometry":{"type":"Point","coordinates":[10.55,52.48]}}]}', encoding="utf-8")
    try:
        for args in (["db", "start"], ["db", "upgrade"], ["import", "spielplaetze", str(gpkg)]):
            result = runner.invoke(app, args, env=env)
            assert result.exit_code == 0, result.output
        assert runner.invoke(app, ["db", "stop"], env=env).output.strip() == "embedded database stopped"
        status = runner.invoke(app, ["db", "status"], env=env)
        assert '"running": false' in status.output
        assert runner.invoke(app, ["db", "start"], env=env).exit_code == 0
        cluster = LocalCluster(tmp_path / "data", int(env["GEO_SERVICE_EMBEDDED_PORT"]))
        with psycopg.connect(cluster.url()) as conn:
            names = [r[0] for r in conn.execute("SELECT properties->>'name' FROM features")]
        assert names == ["Spielplatz Dauerhaft"]
        # listening on loopback only
        with psycopg.connect(cluster.url()) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
    finally:
        runner.invoke(app, ["db", "stop"], env=env)
        pointer = tmp_path / "data" / "postgres.location"
        if pointer.exists():  # as root, the cluster went where 'postgres' can reach it
            shutil.rmtree(Path(pointer.read_text().strip()).parent, ignore_errors=True)


def test_cluster_refuses_another_major_version_with_instructions(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    cluster = LocalCluster(tmp_path, free_port())
    cluster.init()
    (cluster.pgdata / "PG_VERSION").write_text("11\n")
    with pytest.raises(LocalClusterError) as err:
        cluster.start()
    message = str(err.value)
    assert "PostgreSQL 11" in message and "pg_upgrade" in message and "backup" in message


def test_runs_as_a_normal_user(tmp_path: Path) -> None:
    # The suite usually runs as root (CI); then this checks the other half of the promise in a
    # forked child that drops to 'nobody': a normal user runs initdb and the server itself,
    # without runuser. (A fork, because 'nobody' may not execute the venv's interpreter.)
    user = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    # pytest's tmp_path lies under a root-only folder; 'nobody' needs a path it can reach.
    folder = Path(tempfile.mkdtemp(prefix="geo-service-user-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(folder, user.pw_uid, user.pw_gid)
    port = free_port()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
            cluster = LocalCluster(folder, port)
            url = cluster.start()
            with psycopg.connect(url) as conn:
                version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
            os.write(write, f"{version} {cluster.stop()}".encode())
            code = 0
        except BaseException as exc:  # report anything to the parent
            os.write(write, f"error: {exc!r}".encode())
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, message
    assert message.endswith(" True"), message
    assert (folder / "postgres" / "PG_VERSION").stat().st_uid == user.pw_uid
    shutil.rmtree(folder, ignore_errors=True)
