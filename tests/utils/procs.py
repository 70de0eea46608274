"""Memory of a process and its descendants, from /proc (Linux)."""

from __future__ import annotations

import threading
from pathlib import Path


def _status(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` value in kB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def peak_rss_kb(pid: int) -> int:
    """VmHWM: the highest resident set size the process ever had."""
    return _status(pid, "VmHWM")


def descendants(pid: int) -> list[int]:
    """Children, grandchildren … of ``pid`` (from each task's children list)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            todo += children
    return found


class TreeSampler:
    """Samples the peak RSS of every descendant of ``pid`` while running (VmHWM dies with a
    process, so short-lived job processes are watched as they live)."""

    def __init__(self, pid: int, every_s: float = 0.02):
        self.pid = pid
        self.every_s = every_s
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for child in descendants(self.pid):
                self.peaks[child] = max(self.peaks.get(child, 0), peak_rss_kb(child))
            self._stop.wait(self.every_s)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def max_kb(self) -> int:
        return max(self.peaks.values(), default=0)
