"""Timing helpers: run jobs from one or more clients, summarise as p50/p95 and requests/s."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

Job = TypeVar("Job")

#: Makes one client (an HTTP client, a database connection) and hands back a function that
#: runs one job with it; the context closes the client.
WorkerFactory = Callable[[], AbstractContextManager[Callable[[Job], Any]]]


@dataclass
class Timing:
    """Latencies (ms) of the measured jobs and the wall time they took together."""

    latencies_ms: list[float]
    wall_s: float
    results: list[Any] = field(default_factory=list, repr=False)

    @property
    def p50_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 50))

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 95))

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_s


@dataclass
class Row:
    """One line of the results: the shape issue 6's ``latest.json`` asks for, plus context."""

    system: str
    workload: str
    clients: int
    rps: float
    p50_ms: float
    p95_ms: float
    requests: int
    features: int

    @classmethod
    def of(cls, system: str, workload: str, clients: int, timing: Timing, *, features: int) -> Row:
        return cls(system, workload, clients, round(timing.rps, 1), round(timing.p50_ms, 2),
                   round(timing.p95_ms, 2), len(timing.latencies_ms), features)


class _Worker(threading.Thread, Generic[Job]):
    def __init__(self, make: WorkerFactory[Job], jobs: Iterator[tuple[int, Job]],
                 lock: threading.Lock, start: threading.Barrier, out: dict[int, tuple[float, Any]]):
        super().__init__(daemon=True)
        self.make, self.jobs, self.lock, self.start_line, self.out = make, jobs, lock, start, out
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.make() as work:
                self.start_line.wait()
                while True:
                    with self.lock:
                        item = next(self.jobs, None)
                    if item is None:
                        return
                    index, job = item
                    began = time.perf_counter()
                    result = work(job)
                    self.out[index] = ((time.perf_counter() - began) * 1000, result)
        except BaseException as exc:  # reported by measure()
            self.error = exc
            self.start_line.abort()


def measure(make: WorkerFactory[Job], jobs: Sequence[Job], *, clients: int = 1,
            warmup: Iterable[Job] = ()) -> Timing:
    """Run ``jobs`` from ``clients`` concurrent workers, each job once, and time them.

    Each worker first runs the ``warmup`` jobs (not timed), then all wait for each other, so the
    wall time covers only the measured jobs. ``results`` keeps each job's return value, in the
    order of ``jobs``. Any failing job fails the whole measurement.
    """
    warm = list(warmup)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    pending = iter(enumerate(jobs))
    out: dict[int, tuple[float, Any]] = {}

    def warmed() -> AbstractContextManager[Callable[[Job], Any]]:
        return _Warmed(make, warm)

    workers = [_Worker(warmed, pending, lock, start, out) for _ in range(clients)]
    for worker in workers:
        worker.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    errors = [w.error for w in workers if w.error is not None]
    if errors:
        # The first real failure, not the broken barrier it caused in the other workers.
        errors.sort(key=lambda e: isinstance(e, threading.BrokenBarrierError))
        raise errors[0]
    if len(out) != len(jobs):
        raise RuntimeError(f"only {len(out)} of {len(jobs)} jobs ran")
    ordered = [out[i] for i in range(len(jobs))]
    return Timing([t for t, _ in ordered], wall, [r for _, r in ordered])


class _Warmed(Generic[Job]):
    """A worker's client, with the warm-up jobs already run on it."""

    def __init__(self, make: WorkerFactory[Job], warm: list[Job]) -> None:
        self.context = make()
        self.warm = warm

    def __enter__(self) -> Callable[[Job], Any]:
        work = self.context.__enter__()
        for job in self.warm:
            work(job)
        return work

    def __exit__(self, *exc: Any) -> None:
        self.context.__exit__(*exc)


def format_table(rows: Sequence[Row]) -> str:
    """The rows as a fixed-width table, with the HTTP/SQL ratio of p50 where both exist."""
    floors = {(r.workload, r.clients): r for r in rows if r.system == "sql"}
    header = (f"{'system':<15} {'workload':<11} {'clients':>7} {'req/s':>9} {'p50 ms':>9} "
              f"{'p95 ms':>9} {'features':>9} {'p50/sql':>8}")
    lines = [header, "-" * len(header)]
    for r in rows:
        floor = floors.get((r.workload, r.clients))
        ratio = f"{r.p50_ms / floor.p50_ms:.1f}x" if floor and r.system != "sql" else ""
        lines.append(f"{r.system:<15} {r.workload:<11} {r.clients:>7} {r.rps:>9.1f} "
                     f"{r.p50_ms:>9.2f} {r.p95_ms:>9.2f} {r.features:>9} {ratio:>8}")
    return "\n".join(lines)


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    """The rows as a JSON list (written to a temp file first, so a crash leaves the old file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")
    tmp.replace(path)
