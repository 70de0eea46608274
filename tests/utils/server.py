"""A live service in its own process (uvicorn), on a free loopback port.

A separate process, not a thread: clients such as GDAL hold the GIL while they wait for the
server, and a server thread in the same interpreter would never answer them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from geo_service.settings import Settings
from tests.utils.db import free_port


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as GEO_SERVICE_* variables (complex values as JSON, as pydantic reads them)."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"GEO_SERVICE_{name.upper()}"] = text
    return env


class LiveServer:
    def __init__(self, settings: Settings, *, log: Path | None = None):
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """One uvicorn process serving the app factory."""
        return [sys.executable, "-m", "uvicorn", "--factory", "geo_service.api.asgi:create_from_env",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                # as 'geo-service serve': the app, not uvicorn, decides which proxies to believe
                "--no-proxy-headers"]

    def __enter__(self) -> LiveServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
        env.update(settings_env(self.settings))
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            self.command(), env=env, stdout=out, stderr=out if self.log else None,
            cwd=Path(__file__).resolve().parents[2],
        )
        self.client = httpx.Client(base_url=self.url, timeout=60)
        deadline = time.monotonic() + 60
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"test server exited with {self._process.returncode}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("test server did not start within 60 s")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def pid(self) -> int:
        """The server process (for its memory figures in /proc)."""
        assert self._process is not None
        return self._process.pid

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]
