"""A throw-away PostGIS for a benchmark: the project's LocalCluster in a temp folder, migrated."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from geo_service.db.engine import upgrade
from geo_service.db.local import LocalCluster

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BenchCluster:
    """A private cluster that never touches the developer's ``.data``.

    Parameters
    ----------
    keep
        Leave the folder (and a stopped cluster) behind for inspection.

    Examples
    --------
    >>> with BenchCluster() as db:  # doctest: +SKIP
    ...     load_meeting_places(db.url, n=10_000)
    """

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self.folder = Path(tempfile.mkdtemp(prefix="geo-service-bench-"))
        # As root, the cluster runs as 'postgres', which must reach the folder.
        os.chmod(self.folder, 0o755)
        self.cluster = LocalCluster(self.folder, free_port())
        self.url = ""

    def __enter__(self) -> BenchCluster:
        try:
            self.url = self.cluster.start()
            upgrade(self.url)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.cluster.stop()
        finally:
            if self.keep:
                log.warning("kept the benchmark cluster in %s (port %s)", self.folder, self.cluster.port)
            else:
                pgdata = self.cluster.pgdata
                if not pgdata.is_relative_to(self.folder):
                    shutil.rmtree(pgdata, ignore_errors=True)
                shutil.rmtree(self.folder, ignore_errors=True)
