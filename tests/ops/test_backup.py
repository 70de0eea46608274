"""Backup and restore: a dump with data, keys and history, restored into an empty database,
serves the same items (ids, ETags) and the same history, and every table holds the same rows."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from geo_service.auth import create_key
from geo_service.cli import app as cli
from geo_service.ops.backup import Target, client_bindir, server_major
from tests.conftest import make_settings
from tests.utils.db import TestCluster
from tests.utils.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]


def _env(url: str) -> dict[str, str]:
    return {"GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers")}


def _tables(url: str) -> dict[str, tuple[int, list[str]]]:
    """Every table of the database (whatever later releases add) with its rows as JSON text,
    and every sequence's position, so new ids after a restore cannot collide."""
    out: dict[str, tuple[int, list[str]]] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1").fetchall()
        for (table,) in tables:
            rows = sorted(r[0] for r in conn.execute(f"SELECT to_jsonb(t)::text FROM {table} t"))
            out[table] = (len(rows), rows)
        for (seq, value) in conn.execute(
                "SELECT format('%I.%I', schemaname, sequencename), last_value FROM pg_sequences"):
            out[f"sequence {seq}"] = (int(value or 0), [])
    return out


def _items(live: LiveServer) -> dict[str, dict[int, str]]:
    """Every layer's item ids with each item's ETag, over HTTP."""
    out: dict[str, dict[int, str]] = {}
    for collection in live.get("/collections").json()["collections"]:
        layer = collection["id"]
        doc = live.get(f"/collections/{layer}/items", params={"limit": 10000}).json()
        out[layer] = {}
        for feature in doc["features"]:
            response = live.get(f"/collections/{layer}/items/{feature['id']}")
            assert response.status_code == 200
            out[layer][feature["id"]] = response.headers["ETag"]
    return out


def _place(name: str) -> dict[str, object]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.5622, 52.4765]},
            "properties": {"name": name, "kind": "Nachbarschaftstreff", "town": "Gifhorn"}}


def test_backup_restore_serves_identical_items_and_history(
        db_url: str, pg_cluster: TestCluster, tmp_path: Path) -> None:
    key = create_key(db_url, role="admin", layers=[], districts=[], organisation=None,
                     label="backup test")
    auth = {"Authorization": f"Bearer {key.token}"}
    runner = CliRunner()
    with LiveServer(make_settings(db_url)) as live:
        created = live.client.post("/collections/meeting_places/items",
                                   json=_place("Treff vor der Sicherung"), headers=auth)
        assert created.status_code == 201, created.text
        item = created.json()["id"]
        path = f"/collections/meeting_places/items/{item}"
        changed = live.client.patch(path, json={"properties": {"description": "zweite Fassung"}},
                                    headers={**auth, "If-Match": created.headers["ETag"]})
        assert changed.status_code == 200, changed.text
        history = live.get(f"{path}/history", headers=auth)
        assert history.status_code == 200 and len(history.json()["versions"]) >= 2
        items = _items(live)
    assert items["meeting_places"][item]

    dump = tmp_path / "quartierskarte.dump"
    result = runner.invoke(cli, ["db", "backup", str(dump)], env=_env(db_url))
    assert result.exit_code == 0, result.output
    assert dump.read_bytes()[:5] == b"PGDMP"
    assert dump.stat().st_mode & 0o077 == 0  # contact data and key hashes: owner only
    assert not list(tmp_path.glob("*.part"))

    empty = pg_cluster.create_empty_database()
    try:
        result = runner.invoke(cli, ["db", "restore", str(dump), "--url", empty],
                               env=_env(db_url))
        assert result.exit_code == 0, result.output
        assert _tables(empty) == _tables(db_url)
        with LiveServer(make_settings(empty)) as restored:
            assert _items(restored) == items
            again = restored.get(f"{path}/history", headers=auth)  # the key came along
            assert again.status_code == 200
            assert again.json() == history.json()
            assert restored.get("/readyz").status_code == 200
            # new ids continue after the restored ones
            fresh = restored.client.post("/collections/meeting_places/items",
                                         json=_place("Treff nach dem Zurückspielen"), headers=auth)
            assert fresh.status_code == 201 and fresh.json()["id"] > item
    finally:
        pg_cluster.drop_database(empty)


def test_restore_refuses_a_database_that_is_not_empty(db_url: str, tmp_path: Path) -> None:
    dump = tmp_path / "a.dump"
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "backup", str(dump)], env=_env(db_url)).exit_code == 0
    before = _tables(db_url)
    result = runner.invoke(cli, ["db", "restore", str(dump)], env=_env(db_url))
    assert result.exit_code == 1
    assert "Fehler: Die Zieldatenbank" in result.output and "nicht leer" in result.output
    assert _tables(db_url) == before


def test_clear_errors(pg_cluster: TestCluster, tmp_path: Path) -> None:
    runner = CliRunner()
    not_a_dump = tmp_path / "notes.txt"
    not_a_dump.write_text("kein Dump")
    empty = pg_cluster.create_empty_database()
    try:
        cases = [
            (["db", "restore", str(not_a_dump), "--url", empty], "keine Sicherung im Custom-Format"),
            (["db", "restore", str(tmp_path / "fehlt.dump"), "--url", empty], "gibt es nicht"),
            (["db", "backup", str(tmp_path / "nirgends" / "x.dump"), "--url", empty],
             "Den Ordner"),
            (["db", "backup", str(tmp_path / "x.dump"), "--url",
              "postgresql://nobody:wrong@127.0.0.1:1/none"], "nicht erreichbar"),
        ]
        for args, words in cases:
            result = runner.invoke(cli, args, env=_env(empty))
            assert result.exit_code == 1, (args, result.output)
            assert result.output.startswith("Fehler: ") and words in result.output, result.output
            assert result.output.count("\n") == 1  # one sentence, no traceback
    finally:
        pg_cluster.drop_database(empty)


def test_password_stays_off_the_command_line_and_versions_match(pg_cluster: TestCluster) -> None:
    target = Target.from_url(pg_cluster.url)
    assert target.password and target.password not in target.conninfo
    assert target.env()["PGPASSWORD"] == target.password
    major = server_major(target)
    assert client_bindir(major) == Path(f"/usr/lib/postgresql/{major}/bin")


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql+asyncpg"])
def test_driver_urls_are_understood(pg_cluster: TestCluster, scheme: str) -> None:
    url = pg_cluster.url.replace("postgresql://", f"{scheme}://")
    assert server_major(Target.from_url(url)) >= 13


def test_embedded_cluster_moves_to_a_new_cluster_by_backup_and_restore(tmp_path: Path) -> None:
    """The README's way to a new PostgreSQL major version, on the embedded cluster, as root too."""
    import shutil

    from geo_service.db.engine import current_revision, head_revision
    from geo_service.db.local import LocalCluster
    from tests.utils.db import free_port

    tmp_path.chmod(0o755)
    runner = CliRunner()
    places = tmp_path / "spielplaetze.geojson"
    places.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"Spielplatz am Wall","age_group":"0-6"},'
        '"geometry":{"type":"Point","coordinates":[9.95,52.15]}}]}', encoding="utf-8")
    envs = {}
    for name in ("old", "new"):
        envs[name] = {"GEO_SERVICE_DATA_DIR": str(tmp_path / name),
                      "GEO_SERVICE_EMBEDDED_PORT": str(free_port()),
                      "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers"),
                      "GEO_SERVICE_DATABASE_URL": ""}
    dump = tmp_path / "umzug.dump"
    try:
        for args in (["db", "start"], ["db", "upgrade"], ["import", "spielplaetze", str(places)],
                     ["db", "stop"], ["db", "backup", str(dump)]):
            result = runner.invoke(cli, args, env=envs["old"])
            assert result.exit_code == 0, (args, result.output)
        # the backup started the stopped cluster for itself and stopped it again
        assert '"running": false' in runner.invoke(cli, ["db", "status"], env=envs["old"]).output
        for args in (["db", "start"], ["db", "restore", str(dump)], ["db", "start"]):
            result = runner.invoke(cli, args, env=envs["new"])
            assert result.exit_code == 0, (args, result.output)
        cluster = LocalCluster(tmp_path / "new", int(envs["new"]["GEO_SERVICE_EMBEDDED_PORT"]))
        with psycopg.connect(cluster.url()) as conn:
            names = [r[0] for r in conn.execute("SELECT properties->>'name' FROM features")]
        assert names == ["Spielplatz am Wall"]
        assert current_revision(cluster.url()) == head_revision()
    finally:
        for name in ("old", "new"):
            runner.invoke(cli, ["db", "stop"], env=envs[name])
            pointer = tmp_path / name / "postgres.location"
            if pointer.exists():  # as root, the cluster went where 'postgres' can reach it
                shutil.rmtree(Path(pointer.read_text().strip()).parent, ignore_errors=True)
