"""Optional sampling profiles of the service during a workload (py-spy, if installed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_FORMATS = {".svg": "flamegraph", ".txt": "raw", ".json": "speedscope"}


def py_spy() -> str | None:
    """The py-spy executable: ``$PY_SPY`` or the one on PATH (``pip install py-spy``)."""
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


@contextmanager
def recording(pid: int, output: Path | None, *, rate: int = 250) -> Iterator[None]:
    """Sample process ``pid`` while the block runs, into ``output``.

    The suffix picks the format: ``.svg`` a flame graph, ``.txt`` collapsed stacks (one line
    per stack with its sample count, for grep and sort), ``.json`` speedscope.

    Does nothing when ``output`` is None. py-spy writes its file when interrupted (SIGINT).
    """
    if output is None:
        yield
        return
    exe = py_spy()
    if exe is None:
        raise RuntimeError("--profile needs py-spy: 'pip install py-spy' or set PY_SPY")
    output.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", str(rate), "--output", str(output),
         "--format", _FORMATS.get(output.suffix, "flamegraph"), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
