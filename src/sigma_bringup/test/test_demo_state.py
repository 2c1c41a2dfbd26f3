"""A clean demo state at start and a plain answer (fault + how to clear it) when a robot cannot take work."""

from __future__ import annotations

import json
from pathlib import Path

from sigma_bringup.demo_state import (
    FaultView,
    StatusView,
    clear_previous_latches,
    latch_path,
    why_not_commandable,
)


def test_latches_of_the_previous_run_are_moved_aside_with_a_line_saying_so(tmp_path):
    r3 = latch_path(tmp_path, "r3")
    r3.parent.mkdir(parents=True)
    r3.write_text(json.dumps([{"code": 201, "rule": "thermal", "source": "left_knee", "cause": "winding 131 degC",
                               "severity": 2, "value": 131.0, "limit": 130.0}]))
    bad = latch_path(tmp_path, "r2")
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    lines = clear_previous_latches(tmp_path, ["r1", "r2", "r3"])
    assert len(lines) == 2 and lines[0].startswith("r2: ") and "unreadable" in lines[0]
    assert "thermal left_knee (winding 131 degC)" in lines[1]
    assert not r3.exists() and Path(str(r3) + ".previous").exists()
    assert clear_previous_latches(tmp_path, ["r1", "r2", "r3"]) == []  # nothing left: a second call says nothing


def test_a_blocked_robot_is_explained_with_its_fault_and_how_to_clear_it():
    token = Path("var/demo/secrets/safety_reset_token")
    status = StatusView(3, 2, True, (FaultView(201, "thermal", "left_knee", "restored after restart: hot", True),
                                     FaultView(301, "human_proximity", "h1", "person at 0.6 m", False)))
    text = why_not_commandable("r3", status, token)
    assert text.splitlines()[0] == ("r3: emergency stop, authority mechanical fallback (no AI may command), "
                                    "brakes engaged")
    assert "fault 201 thermal on left_knee" in text and "/r3/safety/reset" in text and str(token) in text
    assert "fault 301 human_proximity on h1: person at 0.6 m — clears by itself" in text
    assert "no safety status received" in why_not_commandable("r1", None, token)
