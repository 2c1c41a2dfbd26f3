"""The README's main command in its scenario mode, end to end: cloud + fleet + scenario + summary."""

from __future__ import annotations

import re
import socket

from sigma_testing import executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_scenario_passes_and_its_summary_checks_out(launch, tmp_path):
    demo = launch.command(
        [
            executable("sigma_bringup", "demo"),
            "--scenario",
            "--data-dir",
            str(tmp_path / "demo"),
            "--cloud-port",
            str(_free_port()),
            "--foxglove-ports",
            "0,0,0",
        ],
        label="demo",
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
    assert not list((tmp_path / "demo" / "cloud" / "pg").rglob("postmaster.pid"))
