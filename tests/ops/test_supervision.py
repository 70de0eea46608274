"""A worker that dies never stops the database, and the service comes back by itself.

Run as a person runs it: ``scripts/start`` (embedded PostGIS, demo data, ``geo-service serve``
with two workers). One worker is killed with SIGSEGV (what the cql2 stack overflow did), the
other with SIGKILL; the service keeps answering, each is replaced, the database stays up, the
internal metrics listener answers throughout, and Ctrl+C still stops everything.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.utils.db import free_port
from tests.utils.served import children, command_line

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait(what: str, check, timeout: float, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{what} did not happen:\n{log.read_text()[-3000:]}"
        time.sleep(0.3)


def test_dying_workers_are_replaced_while_the_database_keeps_running() -> None:
    data = Path(tempfile.mkdtemp(prefix="geo-service-supervision-"))
    data.chmod(0o755)
    port, db_port, metrics_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env.update(CI="true", GEO_SERVICE_PORT=str(port), GEO_SERVICE_DATA_DIR=str(data),
               GEO_SERVICE_EMBEDDED_PORT=str(db_port), GEO_SERVICE_METRICS_PORT=str(metrics_port),
               GEO_SERVICE_WORKERS="2")
    base, metrics = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
    gs = str(ROOT / ".venv/bin/geo-service")

    def db_running() -> bool:
        status = subprocess.run([gs, "db", "status"], env=env, capture_output=True, text=True,
                                cwd=ROOT)
        return bool(json.loads(status.stdout)["running"])

    log = data / "start.log"
    with open(log, "wb") as out:
        start = subprocess.Popen([str(ROOT / "scripts/start")], cwd=ROOT, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    try:
        supervisors: list[int] = []

        def workers() -> list[int]:
            return [p for p in children(supervisors[0]) if "spawn_main" in command_line(p)
                    and _alive(p)]

        def serving() -> bool:
            return httpx.get(f"{base}/collections/meeting_places/items", timeout=10).status_code == 200

        def started(n: int) -> bool:
            """At least ``n`` workers have finished their start-up (a worker's process exists
            some seconds before it accepts connections)."""
            return log.read_text().count("Application startup complete") >= n

        def found_supervisor() -> bool:
            assert start.poll() is None, log.read_text()
            supervisors[:] = [p for p in children(start.pid) if "geo-service serve" in command_line(p)]
            return bool(supervisors)

        _wait("geo-service serve starting", found_supervisor, 300, log)
        _wait("two workers answering", lambda: len(workers()) == 2 and started(2) and serving(),
              300, log)
        supervisor = supervisors[0]

        # The filter that used to crash a worker is a 400 now, and kills nobody.
        before = set(workers())
        crash = httpx.get(f"{base}/collections/meeting_places/items",
                          params={"filter": "(" * 3000 + "name = 'x'" + ")" * 3000}, timeout=30)
        assert crash.status_code == 400
        assert set(workers()) == before

        for round_, sig in enumerate((signal.SIGSEGV, signal.SIGKILL), start=1):
            victim, other = workers()
            os.kill(victim, sig)
            _wait(f"worker {victim} gone", lambda v=victim: not _alive(v), 30, log)  # type: ignore[misc]
            # Meanwhile: the other worker answers, the database runs, the metrics answer.
            assert serving()
            assert db_running()
            assert httpx.get(metrics, timeout=10).status_code == 200
            # A replacement is started and answers; the supervisor is the same process.
            _wait("a replacement worker", lambda v=victim, o=other, r=round_: (  # type: ignore[misc]
                len(set(workers()) - {v, o}) == 1 and started(2 + r) and serving()), 300, log)
            assert _alive(supervisor) and start.poll() is None
        text = log.read_text()
        assert text.count("died") >= 2, text[-3000:]
        assert db_running()
        assert len(workers()) == 2 and serving()
    finally:
        tree = [supervisors[0], *children(supervisors[0])] if supervisors else []
        if start.poll() is None:
            os.killpg(start.pid, signal.SIGINT)  # Ctrl+C
        start.wait(timeout=120)
    # Ctrl+C stopped everything cleanly: no process of the tree left, the database stopped.
    assert start.returncode == 0, log.read_text()[-3000:]
    assert not [pid for pid in tree if _alive(pid)]
    assert not db_running()
    shutil.rmtree(data, ignore_errors=True)
