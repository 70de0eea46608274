"""The service as ``geo-service serve`` runs it: a supervising process, its workers, and the
internal listener for /metrics, each on a free loopback port."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx

from geo_service.settings import Settings
from tests.utils.db import free_port
from tests.utils.server import LiveServer


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (from /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class ServedService(LiveServer):
    """``geo-service serve`` with the given settings (its metrics port chosen here)."""

    def __init__(self, settings: Settings, *, log: Path | None = None, http: str = "auto"):
        self.metrics_port = free_port()
        super().__init__(settings.model_copy(update={"metrics_host": "127.0.0.1",
                                                     "metrics_port": self.metrics_port}), log=log)
        self.http = http
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"

    def command(self) -> list[str]:
        return [str(Path(sys.executable).with_name("geo-service")), "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--http", self.http]

    @property
    def supervisor_pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def worker_pids(self) -> list[int]:
        """The worker processes (spawned by uvicorn's supervisor; not its resource tracker)."""
        return [pid for pid in children(self.supervisor_pid) if "spawn_main" in command_line(pid)]

    def metrics(self) -> str:
        response = httpx.get(self.metrics_url, timeout=30)
        response.raise_for_status()
        return response.text

    def __exit__(self, *exc: object) -> None:
        workers = self.worker_pids() if self._process and self._process.poll() is None else []
        super().__exit__(*exc)
        for pid in workers:  # only if the supervisor had to be killed and left them behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
