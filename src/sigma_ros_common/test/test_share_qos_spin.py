"""Share lookup through the ament index, the contract's QoS profiles, parameter declaration on a real node."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import rclpy
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

from sigma_ros_common import qos
from sigma_ros_common.params import ConfigError, param
from sigma_ros_common.ros_params import declare_plain, load
from sigma_ros_common.share import package_share, resolve_file, share_file

pytest_plugins = ["sigma_testing.fixtures"]


def test_share_lookup_goes_through_the_ament_index_and_names_what_is_missing():
    share = package_share("sigma_ros_common")
    assert (share / "package.xml").is_file() and share.parts[-2:] == ("share", "sigma_ros_common")
    assert share_file("sigma_ros_common", "package.xml") == share / "package.xml"
    with pytest.raises(ConfigError, match=r"package 'no_such_pkg' is not installed"):
        package_share("no_such_pkg")
    with pytest.raises(ConfigError, match=r"share/sigma_ros_common/config/nothing\.yaml does not exist"):
        share_file("sigma_ros_common", "config", "nothing.yaml")
    assert resolve_file("package.xml", "sigma_ros_common", "p") == share / "package.xml"
    with pytest.raises(ConfigError, match=r"parameter world: .*/share/sigma_ros_common/nowhere\.yaml does not exist"):
        resolve_file("nowhere.yaml", "sigma_ros_common", "world")
    assert resolve_file("package://sigma_ros_common/package.xml", "other", "p") == share / "package.xml"
    with pytest.raises(ConfigError, match="not package://<package>/<path>"):
        resolve_file("package://sigma_ros_common", "other", "p")
    assert not resolve_file("gone.yaml", "sigma_ros_common", "p", must_exist=False).exists()
    with pytest.raises(ConfigError, match="parameter world: empty path"):
        resolve_file("", "sigma_ros_common", "world")


def test_qos_profiles_are_the_contract():
    assert qos.LATCHED.depth == 1 and qos.LATCHED.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert qos.LATCHED.reliability == ReliabilityPolicy.RELIABLE
    assert qos.SAFETY_EVENTS.depth == 1000 and qos.SAFETY_EVENTS.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert qos.SENSOR.reliability == ReliabilityPolicy.BEST_EFFORT
    assert qos.reliable(7).depth == 7 and qos.reliable(7).durability == DurabilityPolicy.VOLATILE
    assert qos.COMMANDS.depth == 10 and qos.DECISIONS.depth == 50


@dataclass(frozen=True)
class Rates:
    imu: float = param(50.0, unit="Hz", low=0.1, high=1000.0, description="imu rate")
    robots: tuple[str, ...] = param(("r1",), description="robot ids")


def test_declared_parameters_carry_descriptors_and_are_validated(ros_domain):
    context = rclpy.Context()
    rclpy.init(context=context, args=["--ros-args", "-p", "rates.imu:=200.0", "-p", "rates.robots:=[a, b]"])
    try:
        node = rclpy.create_node("params_test", context=context)
        rates = load(node, Rates, "rates")
        assert rates == Rates(imu=200.0, robots=("a", "b"))
        desc = node.describe_parameter("rates.imu")
        assert desc.description == "imu rate [Hz]" and desc.read_only
        assert desc.floating_point_range[0].to_value == 1000.0
        assert declare_plain(node, "status_rate", 20.0, "rate", unit="Hz", low=10.0, high=100.0) == 20.0
        node.destroy_node()
        bad = rclpy.create_node("params_bad", context=context,
                                parameter_overrides=[rclpy.parameter.Parameter("rates.imu", value=5000.0)])
        with pytest.raises(ConfigError, match=r"parameter rates\.imu"):
            load(bad, Rates, "rates")
        bad.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
