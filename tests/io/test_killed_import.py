"""The CLI import's one transaction: killed mid-way it leaves nothing behind; finished, it leaves
its features and their history together."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.conftest import ROOT
from tests.io.files import many_playgrounds, playgrounds, write
from tests.utils.builders import count

#: Enough points that the COPY and the INSERT … SELECT take seconds on a small machine.
POINTS = 120_000
#: The import's statements as pg_stat_activity shows them.
WRITING = ("COPY _import", "WITH c AS (INSERT INTO features")


def _cli(db_url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env.update({"GEO_SERVICE_DATABASE_URL": db_url, "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers")})
    return subprocess.Popen([sys.executable, "-m", "geo_service.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _import_sessions(conn: psycopg.Connection) -> list[tuple[int, str, str]]:
    return conn.execute(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()


def test_killed_import_leaves_nothing_half_written(db_url: str, tmp_path: Path) -> None:
    path = many_playgrounds(tmp_path / "gross.geojson", POINTS, "Killtest")
    layer_rows = "SELECT count(*) FROM features WHERE layer = 'spielplaetze'"
    before, history = count(db_url, layer_rows), count(db_url, "SELECT count(*) FROM history")
    process = _cli(db_url, "import", "spielplaetze", str(path))
    seen: list[str] = []
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            deadline = time.monotonic() + 120
            while not any(q.startswith(WRITING[1]) for q in seen):
                assert process.poll() is None, process.communicate()[0].decode()
                assert time.monotonic() < deadline, f"the import never started writing: {seen}"
                seen += [q for _, state, q in _import_sessions(conn)
                         if state == "active" and q.startswith(WRITING)]
                time.sleep(0.05)
            # Rows are being inserted (the COPY is done): kill the importer with no chance to
            # clean up, as the OOM killer or a power cut would.
            time.sleep(0.5)
            process.kill()
            process.wait(timeout=30)
            assert process.returncode == -9
            assert any(q.startswith(WRITING[0]) for q in seen), seen
            # The server rolls the transaction back when it finds the client gone; until the
            # backend is gone nothing is visible anyway (MVCC), afterwards nothing exists.
            assert count(db_url, layer_rows) == before
            while _import_sessions(conn):
                assert time.monotonic() < deadline + 60, _import_sessions(conn)
                time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert count(db_url, layer_rows) == before
    assert count(db_url, "SELECT count(*) FROM history") == history
    assert count(db_url, "SELECT count(*) FROM features WHERE "
                 "starts_with(properties->>'name', 'Killtest')") == 0
    # Nothing is left locked: the next import goes through.
    small = write(playgrounds(2), tmp_path / "klein.geojson")
    after = _cli(db_url, "import", "spielplaetze", str(small))
    output = after.communicate(timeout=120)[0].decode()
    assert after.returncode == 0, output
    assert count(db_url, layer_rows) == before + 2


def test_cli_import_writes_history_with_the_features(db_url: str, tmp_path: Path) -> None:
    data = playgrounds(3)
    data["name"] = ["Historie A", "Historie B", "Historie C"]
    process = _cli(db_url, "import", "spielplaetze", str(write(data, tmp_path / "h.geojson")))
    assert process.wait(timeout=120) == 0
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT f.properties->>'name', h.actor, h.key_id, h.after "
            "FROM features f JOIN history h ON h.layer = f.layer AND h.feature_id = f.id AND h.action = 'import' "
            "WHERE starts_with(f.properties->>'name', 'Historie') ORDER BY f.id").fetchall()
    assert [r[0] for r in rows] == ["Historie A", "Historie B", "Historie C"]
    assert all(actor == "cli" and key is None for _, actor, key, _ in rows)
    assert rows[0][3] == {"properties": {"name": "Historie A", "age_group": "alle"},
                          "geometry": {"type": "Point", "coordinates": [10.5493, 52.4766]}}
