"""A malformed model or world fails sim_node at start-up, naming the file and the element."""

from __future__ import annotations

import time

from helpers import URDF, write


def _wait_exit(proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while proc.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc.returncode


def test_malformed_urdf_fails_at_startup_naming_file_and_element(launch, tmp_path):
    bad = write(tmp_path, "broken.urdf", URDF.read_text().replace('effort="200.0000"', 'effort="x"', 1))
    sim = launch("sigma_sim", "sim_node", params={"urdf": str(bad)})
    assert _wait_exit(sim) == 2
    out = sim.output()
    assert f"{bad}: joint 'left_knee' <limit effort>='x' is not a number" in out


def test_unknown_world_file_fails_at_startup(launch, tmp_path):
    sim = launch("sigma_sim", "sim_node", params={"world": str(tmp_path / "nowhere.yaml")})
    assert _wait_exit(sim) == 2
    assert f"parameter world: {tmp_path / 'nowhere.yaml'} does not exist" in sim.output()
