"""The pure parameter scheme: declarations, coercion, ranges, choices, unknown names, docs, parameter files."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sigma_ros_common.params import (
    ConfigError,
    build,
    defaults,
    doc_table,
    flatten,
    param,
    read_ros_parameters,
    require,
    specs,
)


@dataclass(frozen=True)
class Example:
    rate: float = param(20.0, unit="Hz", low=1.0, high=100.0, description="publication rate")
    depth: int = param(10, low=1, high=1000, description="queue depth")
    mode: str = param("planar", description="base mode", choices=("planar", "free"))
    robots: tuple[str, ...] = param(("r1",), description="robot ids")
    enabled: bool = param(True, description="on or off")

    def __post_init__(self) -> None:
        require(self.depth <= 10 * self.rate, "depth <= 10 * rate")


def test_defaults_and_overrides_build_the_frozen_object():
    assert build(Example, {}) == Example()
    got = build(Example, {"rate": 50, "robots": ["a", "b"], "mode": "free"}, "sim")
    assert got.rate == 50.0 and isinstance(got.rate, float) and got.robots == ("a", "b") and got.mode == "free"
    assert [name for name, _, _ in specs(Example)] == ["rate", "depth", "mode", "robots", "enabled"]
    assert defaults(Example, "sim")["sim.rate"] == 20.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate": 500.0}, r"parameter sim\.rate=500\.0 is above its maximum 100\.0 Hz"),
        ({"rate": 0.5}, r"sim\.rate=0\.5 is below its minimum 1\.0 Hz"),
        ({"rate": "fast"}, r"sim\.rate: expected a number"),
        ({"rate": float("nan")}, "must be finite"),
        ({"depth": 2.5}, "expected an integer"),
        ({"depth": True}, "expected an integer"),
        ({"mode": "hover"}, r"sim\.mode='hover' is not one of planar, free"),
        ({"robots": "r1"}, "expected a list of strings"),
        ({"enabled": 1}, "expected true/false"),
        ({"bogus": 1}, r"unknown parameter\(s\) sim\.bogus"),
        ({"rate": 1.0, "depth": 100}, r"sim: depth <= 10 \* rate"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(values, message):
    with pytest.raises(ConfigError, match=message):
        build(Example, values, "sim")


def test_list_defaults_must_be_tuples():
    with pytest.raises(TypeError, match="tuple"):
        param(["r1"], description="x")


def test_doc_table_lists_every_parameter_with_unit_and_range():
    table = doc_table(Example, "sim")
    assert "| `sim.rate` | `20.0` | Hz | [1.0, 100.0] | publication rate |" in table
    assert "planar / free" in table and table.count("\n") == len(specs(Example)) + 1


def test_parameter_files_are_flattened_and_errors_name_the_file(tmp_path):
    assert flatten({"a": 1, "rates": {"imu": 50, "odom": {"x": 2}}}) == {"a": 1, "rates.imu": 50, "rates.odom.x": 2}
    good = tmp_path / "p.yaml"
    good.write_text("node:\n  ros__parameters:\n    rate: 5.0\n    rates: {imu: 50.0}\n")
    assert read_ros_parameters(good, "node") == {"rate": 5.0, "rates.imu": 50.0}
    with pytest.raises(ConfigError, match=r"p\.yaml: no /\*\*: ros__parameters"):
        read_ros_parameters(good)
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read"):
        read_ros_parameters(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        read_ros_parameters(bad)
