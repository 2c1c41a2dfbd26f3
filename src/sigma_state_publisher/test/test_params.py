"""The parameter file and the parameter class agree (one source of truth for defaults, ranges and docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_ros_common.params import ConfigError, build, defaults, read_ros_parameters
from sigma_state_publisher.params import StatePublisherParams

CONFIG = Path(__file__).resolve().parents[1] / "config" / "state_publisher.yaml"


def test_config_file_equals_the_declared_defaults():
    assert read_ros_parameters(CONFIG) == defaults(StatePublisherParams)


def test_bad_values_are_refused_by_name():
    with pytest.raises(ConfigError, match="publish_frequency"):
        build(StatePublisherParams, {"publish_frequency": 0.0})
    with pytest.raises(ConfigError, match="tf_topic"):
        build(StatePublisherParams, {"tf_topic": " "})
