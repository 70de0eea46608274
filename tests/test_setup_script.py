"""scripts/lib/debian.sh (the "only when missing" table of scripts/setup) with a stand-in apt-get.

The stand-in is first on PATH and records how it was called; nothing is installed on the machine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, table: str, apt_get: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text("#!/bin/bash\necho \"$*\" >> \"$CALLS\"\n" + apt_get)
    fake.chmod(0o755)
    script = f". {ROOT}/scripts/lib/debian.sh\ntable() {{\n{table}\n}}\n" "install_needed table"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "CALLS": str(tmp_path / "calls"),
           "MARK": str(tmp_path / "installed"), "APT_LOCK_RETRY_S": "0"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)


def test_nothing_is_installed_when_every_check_holds(tmp_path: Path) -> None:
    result = _run(tmp_path, 'need cmd:bash bash "runs the scripts"\n'
                            'need file:/ base-files "the root exists"', "exit 1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "calls").exists()


def test_a_missing_package_is_named_with_its_reason_and_installed(tmp_path: Path) -> None:
    # The stand-in "installs" by creating the file the check looks for.
    result = _run(tmp_path, 'need "file:$MARK" demo-pkg "the demo needs it"',
                  '[[ "$*" == *install* ]] && touch "$MARK"\nexit 0')
    assert result.returncode == 0, result.stderr
    assert "demo-pkg" in result.stdout and "the demo needs it" in result.stdout
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].endswith("update -q")
    assert "DPkg::Lock::Timeout=" in calls[1]
    assert "install -y -q --no-install-recommends" in calls[1]
    assert calls[1].endswith("demo-pkg")


def test_apt_busy_in_another_process_is_waited_for(tmp_path: Path) -> None:
    # The first two calls (both `update`) find the lock held by someone else.
    apt_get = ('n=$(wc -l < "$CALLS")\n'
               'if [ "$n" -le 2 ]; then\n'
               '  echo "E: Could not get lock /var/lib/apt/lists/lock." >&2; exit 100\n'
               'fi\n'
               '[[ "$*" == *install* ]] && touch "$MARK"\nexit 0')
    result = _run(tmp_path, 'need "file:$MARK" demo-pkg "the demo needs it"', apt_get)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting" in result.stdout
    assert len((tmp_path / "calls").read_text().splitlines()) == 4


def test_a_check_still_failing_after_the_install_is_an_error(tmp_path: Path) -> None:
    result = _run(tmp_path, 'need lib:libnot-there.so.9 demo-lib "the demo links it"', "exit 0")
    assert result.returncode != 0
    assert "demo-lib" in result.stderr and "the demo links it" in result.stderr
    # Read again once after the install, then given up: no endless loop of installs.
    calls = (tmp_path / "calls").read_text().splitlines()
    installs = [c for c in calls if "install" in c]
    assert len(installs) == 1


def test_a_failing_apt_get_shows_its_output(tmp_path: Path) -> None:
    result = _run(tmp_path, 'need "file:$MARK" demo-pkg "the demo needs it"',
                  '[[ "$*" == *install* ]] && '
                  '{ echo "E: Unable to locate package demo-pkg" >&2; exit 100; }\nexit 0')
    assert result.returncode != 0
    assert "Unable to locate package demo-pkg" in result.stderr
