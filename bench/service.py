"""The real service in its own process (uvicorn, one worker) on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.cluster import free_port

ROOT = Path(__file__).resolve().parents[1]


class Service:
    """``uvicorn --factory geo_service.api.asgi:create_from_env`` against ``database_url``.

    Only the settings given here reach it (other ``GEO_SERVICE_*`` variables are dropped), so a
    developer's environment cannot change what is measured. A ``.env`` in the repository would
    still be read for settings not named here.
    """

    def __init__(self, database_url: str, folder: Path, *, settings: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "service.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
        self.env.update({
            "GEO_SERVICE_DATABASE_URL": database_url,
            "GEO_SERVICE_DATA_DIR": str(folder),
            "GEO_SERVICE_LAYERS_DIR": str(ROOT / "layers"),
            "GEO_SERVICE_WORKERS": "1",
            **(settings or {}),
        })
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Service:
        out = self.log.open("ab")
        # No access log: one line per request would be measured too, and the peers in the
        # comparison (issue 6) run without one.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "geo_service.api.asgi:create_from_env",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--log-level", "warning", "--no-access-log"],
            env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        out.close()
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the service exited with {self.process.returncode}:\n{self.tail()}")
                try:
                    if client.get("/healthz").status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"the service did not start within 60 s:\n{self.tail()}")
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
