"""Imports as jobs, against running services sharing one database: the answer never contradicts
what is stored, any replica reports a job, only keys with the import's grant see it, and a retry
with the same Idempotency-Key gets the first job instead of a second import."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from geo_service.auth import create_key
from tests.conftest import make_settings
from tests.io.files import many_playgrounds, playgrounds, write
from tests.utils.builders import count
from tests.utils.imports import settled, watch
from tests.utils.server import LiveServer

PATH = "/collections/spielplaetze/import"
LAYER_ROWS = "SELECT count(*) FROM features WHERE layer = 'spielplaetze'"


def _named(db_url: str, prefix: str) -> int:
    return count(db_url, "SELECT count(*) FROM features WHERE layer = 'spielplaetze' AND "
                         f"starts_with(properties->>'name', '{prefix} ')")


def _key(db_url: str, role: str = "editor", layers: tuple[str, ...] = ("spielplaetze",),
         **scope: object) -> dict[str, str]:
    key = create_key(db_url, role=role, layers=list(layers),
                     districts=list(scope.get("districts", [])),  # type: ignore[call-overload]
                     organisation=scope.get("organisation"), label="jobs")  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {key.token}"}


@pytest.fixture(scope="module")
def replicas(module_db_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two replicas of the service on one database; uploads always answer with their job."""
    settings = make_settings(module_db_url, import_wait_s=0)
    with LiveServer(settings) as first, LiveServer(settings) as second:
        yield first, second


def test_upload_answers_202_and_any_replica_reports_the_job(
        replicas: tuple[LiveServer, LiveServer], module_db_url: str, tmp_path: Path) -> None:
    first, second = replicas
    headers = _key(module_db_url)
    body = write(playgrounds(4), tmp_path / "vier.geojson").read_bytes()
    before = count(module_db_url, LAYER_ROWS)
    response = first.client.post(PATH, params={"filename": "vier.geojson"}, content=body,
                                 headers=headers)
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    assert location.startswith(first.url + "/jobs/")
    assert response.headers["link"] == f'<{location}>; rel="monitor"'
    doc = response.json()
    assert doc["status"] in ("accepted", "running") and doc["result"] is None
    assert {link["rel"] for link in doc["links"]} >= {"self", "collection"}
    # The other replica answers for the job: its state lives in the database.
    job_path = location.removeprefix(first.url)
    done = watch(second.client, job_path, headers)
    result = done["result"]
    assert done["status"] == "successful" and done["http_status"] == 200
    assert (done["imported"], done["total"], done["rejected"]) == (4, 4, 0)
    assert result["imported"] == 4 and "4 Objekte gespeichert" in result["summary"]
    assert count(module_db_url, LAYER_ROWS) == before + 4
    assert done["finished"] >= done["started"] >= done["created"]


def test_job_address_needs_the_grant_of_the_import(
        replicas: tuple[LiveServer, LiveServer], module_db_url: str, tmp_path: Path) -> None:
    first, second = replicas
    owner = _key(module_db_url)
    body = write(playgrounds(1), tmp_path / "eins.geojson").read_bytes()
    response = first.client.post(PATH, params={"filename": "eins.geojson", "dry_run": "true"},
                                 content=body, headers=owner)
    job_path = response.headers["location"].removeprefix(first.url)
    assert second.client.get(job_path).status_code == 401
    for stranger in (_key(module_db_url, layers=("offers",)),
                     _key(module_db_url, districts=["Landkreis Gifhorn"])):
        refused = second.client.get(job_path, headers=stranger)
        assert refused.status_code == 404 and refused.json()["code"] == "NotFound"
    colleague = second.client.get(job_path, headers=_key(module_db_url))
    admin = second.client.get(job_path, headers=_key(module_db_url, role="admin", layers=()))
    assert colleague.status_code == admin.status_code == 200
    assert second.client.get(f"/jobs/{uuid.uuid4()}", headers=owner).status_code == 404
    assert second.client.get("/jobs/../../etc/passwd", headers=owner).status_code == 404
    assert second.client.get("/jobs/kein-auftrag", headers=owner).status_code == 404


def test_same_idempotency_key_gets_the_first_job(
        replicas: tuple[LiveServer, LiveServer], module_db_url: str, tmp_path: Path) -> None:
    first, second = replicas
    headers = {**_key(module_db_url), "Idempotency-Key": f'"{uuid.uuid4()}"'}
    body = many_playgrounds(tmp_path / "wieder.geojson", 50, "Wiederholt").read_bytes()
    params = {"filename": "wieder.geojson"}
    answers: list[httpx.Response] = []

    def send(live: LiveServer) -> None:
        answers.append(live.client.post(PATH, params=params, content=body, headers=headers))

    # Two retries racing each other on two replicas, then one more after the first finished.
    racers = [threading.Thread(target=send, args=(live,)) for live in (first, second)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert all(a.status_code in (200, 202) for a in answers), [a.text for a in answers]
    jobs = {(a.headers.get("content-location") or a.headers["location"]).split("/jobs/")[1]
            for a in answers}
    assert len(jobs) == 1, [a.text[:200] for a in answers]
    job_id = jobs.pop()
    settled(first.client, answers[0], headers)
    again = second.client.post(PATH, params=params, content=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["job"]["id"] == job_id and again.json()["imported"] == 50
    assert _named(module_db_url, "Wiederholt") == 50
    other = second.client.post(PATH, params=params, content=body + b"\n", headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "IdempotencyKeyReused"
    assert _named(module_db_url, "Wiederholt") == 50
    bad = first.client.post(PATH, params=params, content=body,
                            headers={**headers, "Idempotency-Key": "x" * 300})
    assert bad.status_code == 400


def test_stale_job_is_reported_interrupted_by_any_replica(
        replicas: tuple[LiveServer, LiveServer], module_db_url: str) -> None:
    _, second = replicas
    headers = _key(module_db_url, role="admin", layers=())
    job_id = uuid.uuid4()
    with psycopg.connect(module_db_url) as conn:
        conn.execute(
            "INSERT INTO jobs (id, kind, layer, status, actor, request_hash, started_at, "
            "heartbeat_at) VALUES (%s, 'import', 'spielplaetze', 'running', 'cli', 'x', %s, %s)",
            [job_id, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3),
             dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)])
    doc = second.client.get(f"/jobs/{job_id}", headers=headers).json()
    assert doc["status"] == "failed" and doc["http_status"] == 503
    assert "unterbrochen" in doc["result"]["detail"] and "nichts wurde gespeichert" in doc[
        "result"]["detail"]


@pytest.fixture(scope="module")
def hurried(module_db_url: str) -> Iterator[LiveServer]:
    """A service whose requests time out after 3 s, holding one import at a time."""
    settings = make_settings(module_db_url, request_timeout_s=3, import_queue_limit=1)
    with LiveServer(settings) as live:
        yield live


def _jobs(db_url: str) -> int:
    return count(db_url, "SELECT count(*) FROM jobs")


def test_a_timed_out_import_is_a_job_to_watch_never_a_retry(
        hurried: LiveServer, module_db_url: str, tmp_path: Path) -> None:
    db_url = module_db_url
    headers = _key(db_url)
    jobs_before = _jobs(db_url)
    body = many_playgrounds(tmp_path / "lang.geojson", 40_000, "Dauert").read_bytes()
    started = time.monotonic()
    response = hurried.client.post(PATH, params={"filename": "lang.geojson"}, content=body,
                                   headers=headers)
    answered_after = time.monotonic() - started
    assert response.status_code == 202, response.text[:300]
    assert answered_after < 3.5
    # While it runs, this process holds no room for another: refused, and nothing stored.
    busy = hurried.client.post(PATH, params={"filename": "klein.geojson"},
                               content=write(playgrounds(1), tmp_path / "k.geojson").read_bytes(),
                               headers=headers)
    assert busy.status_code == 503 and busy.headers["retry-after"]
    status, result = settled(hurried.client, response, headers)
    assert status == 200 and result["imported"] == 40_000
    assert _named(db_url, "Dauert") == 40_000
    assert _jobs(db_url) == jobs_before + 1


def _trickle(live: LiveServer, headers: dict[str, str], body: bytes, seconds: float) -> int:
    """POST the body in pieces spread over ``seconds`` (a slow client); the answer's status."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        head = (f"POST {PATH}?filename=langsam.geojson HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Length: {len(body)}\r\nContent-Type: application/geo+json\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")
        sock.sendall(head.encode())
        pieces = 20
        step = len(body) // pieces + 1
        try:
            for i in range(0, len(body), step):
                sock.sendall(body[i:i + step])
                time.sleep(seconds / pieces)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed while we were still sending
        answer = sock.recv(65536)
    return int(answer.split(b" ", 2)[1])


def test_a_request_timing_out_during_upload_stores_nothing(
        hurried: LiveServer, module_db_url: str, tmp_path: Path) -> None:
    db_url = module_db_url
    headers = _key(db_url)
    jobs_before = _jobs(db_url)
    body = many_playgrounds(tmp_path / "langsam.geojson", 200, "Langsam").read_bytes()
    status = _trickle(hurried, headers, body, seconds=5)
    assert status == 503
    time.sleep(2)
    assert _named(db_url, "Langsam") == 0
    assert _jobs(db_url) == jobs_before


def test_import_interrupted_by_a_restart_runs_again_on_retry_once(db_url: str,
                                                                  tmp_path: Path) -> None:
    """The service stops while an import runs: the job says so (503, nothing stored); the
    client's retry with the same Idempotency-Key, on the restarted service, runs it once."""
    headers = {**_key(db_url), "Idempotency-Key": "neustart-1"}
    body = many_playgrounds(tmp_path / "neustart.geojson", 30_000, "Neustart").read_bytes()
    params = {"filename": "neustart.geojson"}
    settings = make_settings(db_url, import_wait_s=0)
    with LiveServer(settings) as before_restart:
        response = before_restart.client.post(PATH, params=params, content=body, headers=headers)
        assert response.status_code == 202, response.text[:300]
        job_path = response.headers["location"].removeprefix(before_restart.url)
        deadline = time.monotonic() + 120
        while before_restart.client.get(job_path, headers=headers).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    # Stopped (SIGTERM) with the import running.
    with LiveServer(settings) as after_restart:
        stopped = after_restart.client.get(job_path, headers=headers).json()
        assert stopped["status"] == "failed" and stopped["http_status"] == 503, stopped
        assert _named(db_url, "Neustart") == 0
        retry = after_restart.client.post(PATH, params=params, content=body, headers=headers)
        assert retry.status_code == 202 and retry.headers["location"].endswith(job_path)
        status, result = settled(after_restart.client, retry, headers)
        assert status == 200 and result["imported"] == 30_000
        again = after_restart.client.post(PATH, params=params, content=body, headers=headers)
        assert again.status_code == 200 and again.json()["job"]["id"] == job_path.split("/")[-1]
    assert _named(db_url, "Neustart") == 30_000
    assert _jobs(db_url) == 1
