"""config/sim.yaml holds exactly the declared parameters with their declared defaults (one source of truth)."""

from __future__ import annotations

from pathlib import Path

from sigma_ros_common.params import defaults, read_ros_parameters
from sigma_ros_common.share import package_share
from sigma_sim.params import SimParams, SimRates

SOURCE = Path(__file__).resolve().parents[1] / "config" / "sim.yaml"


def test_sim_yaml_equals_the_declared_defaults_and_is_installed():
    declared = {**defaults(SimParams), **defaults(SimRates, "rates")}
    in_file = read_ros_parameters(SOURCE, "sigma_sim")
    in_file["robots"] = tuple(in_file["robots"])
    assert in_file == declared
    assert (package_share("sigma_sim") / "config" / "sim.yaml").read_text() == SOURCE.read_text(), "rebuild sigma_sim"
