"""The README's main command in its scenario mode, end to end and twice in a row on the same data directory:
cloud + fleet + scenario + summary. The second run starts where the first left off (r3's motor shut down and
latched, the cloud holding the first run's events) and must pass as well."""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sigma_testing import executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: that is 0700, and the embedded PostgreSQL runs as its own system user when the
    # tests run as root.
    root = Path(tempfile.mkdtemp(prefix="sigma-demo-test-"))
    yield root / "demo"
    shutil.rmtree(root, ignore_errors=True)


def _run_demo(launch, data_dir: Path, label: str) -> str:
    demo = launch.command(
        [executable("sigma_bringup", "demo"), "--scenario", "--data-dir", str(data_dir), "--cloud-port",
         str(_free_port()), "--foxglove-ports", "0,0,0"],
        label=label,
    )
    demo.popen.wait(timeout=600)
    out = demo.output()
    assert demo.returncode == 0, out[-6000:]
    summary = out[out.index("Scenario summary") :]
    assert re.search(r"scenario: \d+ passed, 0 failed", summary), summary
    for line in (
        "r2: human approaching → slow, stop, resume",
        "r3: overheating motor → derate, shutdown",
        "r1 telemetry in the database",
        "r3 safety events in the database",
    ):
        assert re.search(rf"PASS  {re.escape(line)}", summary), (line, summary)
    # Everything it started is gone: the embedded PostgreSQL too.
    assert not list((data_dir / "cloud" / "pg").rglob("postmaster.pid"))
    return out


@pytest.mark.timeout(1300)
@pytest.mark.xfail(strict=False, reason=(
    "known open issue (README, status): r2's task along the cross aisle can deadlock with a walker that waits for the "
    "robot while the robot's plan slows/stops for the person (last CI run: 11 of 12 checks, 'r2: task ... active at "
    "navigate:place (20%): person at 1.7 m'); people are not yet obstacles the planner routes around"))
def test_demo_scenario_passes_twice_in_a_row(launch, data_dir):
    first = _run_demo(launch, data_dir, "demo-1")
    assert "latched faults of the previous run cleared" not in first
    assert (data_dir / "sigma_safety" / "r3" / "latched.json").exists()  # the scripted shutdown latched on r3
    second = _run_demo(launch, data_dir, "demo-2")
    # It says what it did to start clean, naming the fault the first run latched.
    assert re.search(r"r3: latched faults of the previous run cleared for a fresh demo robot \(.*left_knee", second)
