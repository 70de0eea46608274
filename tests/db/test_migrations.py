"""Schema migrations: a database populated at the first revision upgrades to head losing no row."""

from __future__ import annotations

import psycopg

from geo_service.db.engine import current_revision, head_revision, upgrade
from tests.utils.db import TestCluster

TABLES = ("quartiers", "meeting_places", "offers", "projects")


def _rows(conn: psycopg.Connection) -> dict[str, list[dict[str, object]]]:
    return {t: [r[0] for r in conn.execute(f"SELECT to_jsonb(t) FROM {t} t ORDER BY id")]
            for t in TABLES}


def test_upgrade_from_first_revision_keeps_every_row(pg_cluster: TestCluster) -> None:
    url = pg_cluster.create_empty_database()
    try:
        upgrade(url, "0001")
        assert current_revision(url) == "0001"
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO quartiers (name, municipality, district, source, licence, geom) VALUES "
                "('Nordstadt', 'Hildesheim', 'Landkreis Hildesheim', 'Skizze', 'dl-de/by-2-0', "
                "ST_Multi(ST_MakeEnvelope(9.94, 52.16, 9.97, 52.18, 4326)))"
            )
            place = conn.execute(
                "INSERT INTO meeting_places (name, kind, languages, geom) VALUES "
                "('Stadtteilbüro Nordstadt', 'Stadtteilbüro', '{de,ar}', "
                "ST_SetSRID(ST_MakePoint(9.955, 52.17), 4326)) RETURNING id, quartier"
            ).fetchone()
            assert place[1] == "Nordstadt"
            conn.execute("INSERT INTO offers (title, category, meeting_place_id) VALUES "
                         "('Gesundheitstreff', 'Sport & Gesundheit', %s)", (place[0],))
            conn.execute("INSERT INTO projects (name, start_date, geom) VALUES ('Projekt', "
                         "'2024-01-01', ST_SetSRID(ST_MakePoint(9.955, 52.17), 4326))")
            before = _rows(conn)
        upgrade(url)
        assert current_revision(url) == head_revision()
        with psycopg.connect(url) as conn:
            after = _rows(conn)
        assert all(len(rows) == 1 for rows in before.values())
        for table in TABLES:
            assert len(after[table]) == len(before[table])
            for old, new in zip(before[table], after[table], strict=True):
                # Every value a row had is still there; later revisions may only add columns.
                assert {k: new.get(k) for k in old} == old
    finally:
        pg_cluster.drop_database(url)


def test_upgrade_twice_is_harmless_and_locked(pg_cluster: TestCluster) -> None:
    url = pg_cluster.create_empty_database()
    try:
        upgrade(url)
        upgrade(url)  # a second worker or restart: nothing to do, no error
        assert current_revision(url) == head_revision()
    finally:
        pg_cluster.drop_database(url)
