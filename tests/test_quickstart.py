"""The README's first command, as a newcomer runs it: scripts/start serves the demo data."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.utils.db import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_scripts_start_serves_demo_data_and_stops_cleanly() -> None:
    data = Path(tempfile.mkdtemp(prefix="geo-service-start-"))
    data.chmod(0o755)
    port, db_port, metrics_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env.update(CI="true", GEO_SERVICE_PORT=str(port), GEO_SERVICE_DATA_DIR=str(data),
               GEO_SERVICE_EMBEDDED_PORT=str(db_port), GEO_SERVICE_METRICS_PORT=str(metrics_port))
    log = data / "start.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(ROOT / "scripts/start")], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        places = httpx.get(f"http://127.0.0.1:{port}/collections/meeting_places/items").json()
        assert any(f["properties"]["name"].startswith("GWG-Treff-PUNKT 53") for f in places["features"])
        assert f"http://127.0.0.1:{port}/" in log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    # The embedded database went down with the service; its data stays on disk.
    status = subprocess.run([str(ROOT / ".venv/bin/geo-service"), "db", "status"], env=env,
                            capture_output=True, text=True, cwd=ROOT)
    assert '"running": false' in status.stdout and '"initialized": true' in status.stdout
    shutil.rmtree(data, ignore_errors=True)
