"""config/twin.yaml holds exactly the dataclass defaults; invalid values are refused naming the parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_ros_common.params import ConfigError, build, defaults, read_ros_parameters
from sigma_twin.core.params import (
    ConsistencyParams,
    EstimatorParams,
    LimitParams,
    NodeParams,
    PrognosisParams,
    SpoofParams,
)

CONFIG = Path(__file__).resolve().parents[1] / "config" / "twin.yaml"
SECTIONS = {"estimator": EstimatorParams, "limits": LimitParams, "prognosis": PrognosisParams, "spoof": SpoofParams,
            "consistency": ConsistencyParams}


def test_config_file_equals_the_declared_defaults():
    expected = defaults(NodeParams)
    for prefix, cls in SECTIONS.items():
        expected.update(defaults(cls, prefix))
    assert read_ros_parameters(CONFIG) == expected


def test_out_of_range_and_inconsistent_values_are_refused():
    with pytest.raises(ConfigError, match="window"):
        build(EstimatorParams, {"window": -1.0})
    with pytest.raises((ConfigError, ValueError), match="risk_horizon"):
        build(PrognosisParams, {"risk_horizon": 500.0, "horizon": 100.0})
