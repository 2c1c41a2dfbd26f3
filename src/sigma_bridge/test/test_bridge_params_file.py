"""config/bridge.yaml holds exactly the declared parameters with their declared defaults (one source of truth)."""

from __future__ import annotations

from pathlib import Path

from sigma_bridge.log_uplink import LogShipping
from sigma_bridge.params import BridgeRates, BridgeSettings
from sigma_ros_common.params import defaults, read_ros_parameters
from sigma_ros_common.share import package_share

SOURCE = Path(__file__).resolve().parents[1] / "config" / "bridge.yaml"


def test_bridge_yaml_equals_the_declared_defaults_and_is_installed():
    declared = {**defaults(BridgeSettings), **defaults(BridgeRates, "rates"), **defaults(LogShipping, "logs")}
    assert read_ros_parameters(SOURCE) == declared
    installed = package_share("sigma_bridge") / "config"
    assert (installed / "bridge.yaml").read_text() == SOURCE.read_text(), "rebuild sigma_bridge"
    assert (installed / "foxglove" / "sigma_bridge_layout.json").is_file()
