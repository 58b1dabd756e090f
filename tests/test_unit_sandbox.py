"""The service unit's sandbox: the per-mail memory cap holds under its system call filter,
and both units pass `systemd-analyze verify`.

systemd cannot run here (PID 1 is not systemd and there is no user manager, so neither
`systemctl` nor `systemd-run --user` works): MemoryMax=/OOMPolicy= themselves are not
exercised. The unit's SystemCallFilter= is, rebuilt from the unit file and loaded with
libseccomp (`tests/unit_seccomp.py`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import unit_seccomp

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
UNIT = UNITS / "report-intake.service"

CHILD = """
from tracker.bounded import memory_limit_problem, run_bounded

def hog():
    return len(bytearray(1536 * 1024 * 1024))  # a zip bomb's worth, all at once

print(memory_limit_problem())
print(run_bounded(hog, seconds=60, memory_bytes=256 * 1024 * 1024).failure)
"""


def _under_filter(calls: set[str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=unit_seccomp.preexec(calls),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.fixture
def filter_ok() -> None:
    reason = unit_seccomp.available()
    if reason:
        pytest.skip(reason)


@pytest.mark.usefixtures("filter_ok")
def test_the_per_mail_memory_cap_holds_under_the_units_system_call_filter() -> None:
    calls = unit_seccomp.allowed_calls(UNIT)
    assert "setrlimit" not in calls and "sched_setattr" not in calls  # ~@resources holds
    problem, failure = _under_filter(calls)
    assert problem == "None"
    assert failure == "out of memory"


@pytest.mark.usefixtures("filter_ok")
def test_a_filter_refusing_prlimit64_leaves_no_cap_and_is_said() -> None:
    """What the unit had before: a systemd that counts prlimit64 in @resources refuses the
    cap (this is the case the explicit allowance in the unit is for)."""
    problem, failure = _under_filter(unit_seccomp.allowed_calls(UNIT, drop=("prlimit64",)))
    assert problem.startswith("setrlimit(RLIMIT_AS) refused:")
    assert failure == "None"  # the hog got its 1.5 GB: only MemoryMax= would stop it


@pytest.mark.parametrize("name", ["report-intake.service", "report-intake-web.service"])
def test_the_units_pass_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    script = shutil.which("report-intake", path=str(Path(sys.executable).parent))
    assert script, "report-intake is not installed in this environment"
    text = (UNITS / name).read_text().replace("/opt/report-intake/bin/report-intake", script)
    unit = tmp_path / name
    unit.write_text(text)
    done = subprocess.run(
        [tool, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
