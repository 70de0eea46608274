"""'Fehler melden' against the live service (rate limit shared by replicas through the
database), catalogue completeness, opening hours in words and the migration's round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import yaml

from geo_service.db.engine import upgrade
from geo_service.maps import i18n
from geo_service.maps.hours import describe
from geo_service.queries.indicators import INDICATORS
from tests.conftest import ROOT, make_settings
from tests.utils.db import TestCluster
from tests.utils.server import LiveServer

MAPS = ROOT / "geo_service" / "maps"


def _post(server: LiveServer, **body: object):  # type: ignore[no-untyped-def]
    return server.client.post("/reports", content=json.dumps(body),
                              headers={"Content-Type": "application/json"})


def test_reports_are_stored_and_rate_limited_across_replicas(db_url: str) -> None:
    settings = make_settings(db_url, report_limit_per_client=3)
    with LiveServer(settings) as first, LiveServer(settings) as second:
        assert _post(first, feature="meeting_places.1", message="Telefonnummer falsch").status_code == 201
        assert _post(second, feature="meeting_places.1", message="Adresse veraltet",
                     contact="a@example.org").status_code == 201
        assert _post(first, feature="meeting_places.2", message="Geschlossen").status_code == 201
        # The fourth from the same network within the hour, on either replica, is refused.
        limited = _post(second, feature="meeting_places.1", message="Noch etwas")
        assert limited.status_code == 429
        assert _post(first, feature="meeting_places.999999", message="x" * 5).status_code == 429
        bad = first.client.post("/reports", data={"feature": "meeting_places.1", "message": "abc"})
        assert bad.status_code == 400  # a plain HTML form post is refused
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT layer, feature_id, message, contact FROM reports ORDER BY id").fetchall()
        assert [r[:2] for r in rows] == [("meeting_places", 1), ("meeting_places", 1),
                                         ("meeting_places", 2)]
        buckets = [r[0] for r in conn.execute("SELECT bucket FROM report_counters").fetchall()]
    assert "*" in buckets
    assert all("127.0.0" not in b for b in buckets)  # only a hash of the network


def test_report_for_a_missing_feature_is_404(module_server: LiveServer) -> None:
    response = _post(module_server, feature="meeting_places.999999", message="Gibt es nicht")
    assert response.status_code == 404
    assert _post(module_server, feature="nope.1", message="abc").status_code == 404
    assert _post(module_server, feature="meeting_places.1", message="x").status_code == 400


def test_opening_hours_endpoint_knows_reformation_day(module_server: LiveServer) -> None:
    with psycopg.connect(module_server.settings.database_url or "") as conn:
        row = conn.execute("SELECT id FROM meeting_places WHERE name = 'GWG-Treff-PUNKT 53'").fetchone()
    assert row is not None
    gwg = str(row[0])
    friday = module_server.get("/karte/hours", params={"ids": gwg, "at": "2025-10-24T10:00:00+02:00",
                                                       "lang": "de"}).json()[gwg]
    holiday = module_server.get("/karte/hours", params={"ids": gwg, "at": "2025-10-31T10:00:00+01:00",
                                                        "lang": "de"}).json()[gwg]
    assert friday["open_now"] is True and holiday["open_now"] is False
    assert friday["text"].startswith("Montag–Donnerstag 09:00–16:00")
    assert friday["text"].endswith("an Feiertagen geschlossen")


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in (MAPS / "static").glob("*.js"):
        keys |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[A-Za-z0-9_.]+)["']""", path.read_text("utf-8")))
    for path in (MAPS / "templates").glob("*.html"):
        keys |= set(re.findall(r"""\bt\[\s*["']([^"']+)["']\s*\]""", path.read_text("utf-8")))
    for path in (MAPS / "builder.py", ):
        keys |= set(re.findall(r"""messages\[\s*["']([^"']+)["']\s*\]""", path.read_text("utf-8")))
    # Keys built from a prefix and a data value ("category." + value) are checked in _data_keys.
    return {k for k in keys if not k.endswith(".")}


def _data_keys() -> set[str]:
    offers = yaml.safe_load((ROOT / "layers" / "offers.yaml").read_text("utf-8"))
    enums = {p["name"]: p.get("enum") for p in offers["properties"]}
    keys = {f"category.{v}" for v in enums["category"]} | {f"target.{v}" for v in enums["target_groups"]}
    keys |= {f"wheelchair.{v}" for v in ("yes", "limited", "no")}
    keys |= {f"search.kind.{v}" for v in ("place", "quartier", "street")}
    keys |= {f"layer.{v}" for v in ("meeting_places", "offers")}
    keys |= {f"planner.indicator.{v}" for v in INDICATORS}
    return keys


def test_no_message_is_missing_from_any_catalogue() -> None:
    needed = _used_keys() | _data_keys()
    assert len(needed) > 80
    german = i18n.catalogue("de")
    for lang in ("de", "en"):
        missing = sorted(needed - set(i18n.catalogue(lang)))
        assert missing == [], f"{lang}.json lacks {missing}"
        assert set(i18n.catalogue(lang)) == set(german), f"{lang}.json differs from de.json"
    resident = {k for k in needed | set(german) if not k.startswith(i18n.PLANNER_PREFIX)}
    for lang in i18n.RESIDENT:
        missing = sorted(resident - set(i18n.catalogue(lang)))
        assert missing == [], f"{lang}.json lacks {missing}"
    for lang in (*i18n.COMPLETE, *i18n.RESIDENT):
        for key, text in i18n.catalogue(lang).items():
            assert text.strip(), f"{lang}: {key} is empty"
            assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", german[key])), (lang, key)


def test_opening_hours_in_words() -> None:
    msgs = i18n.messages("en")
    assert describe("Tu,Th 09:00-13:00; We 14:00-17:00; PH off", "en", msgs) == (
        "Tuesday, Thursday 09:00–13:00; Wednesday 14:00–17:00; closed on public holidays")
    assert describe("24/7", "tr", i18n.messages("tr")) == "günün her saati açık"
    assert describe("sunrise-sunset", "de", i18n.messages("de")) == "sunrise-sunset"
    assert describe(None, "de", msgs) is None


def test_migration_0003_round_trip(pg_cluster: TestCluster) -> None:
    url = pg_cluster.create_empty_database()
    try:
        upgrade(url, "0002")
        upgrade(url)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('reports')").fetchone() == ("reports",)
        from alembic import command

        from geo_service.db.engine import alembic_config

        command.downgrade(alembic_config(url), "0002")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('reports')").fetchone() == (None,)
    finally:
        pg_cluster.drop_database(url)
