"""Parameters: the config file equals the dataclass defaults, the document lists every parameter, and a bad value
refuses the start naming the parameter."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma_core.core.arbiter import ArbiterParams
from sigma_core.core.sitemap import MapParams
from sigma_core.settings import SECTIONS, NodeParams
from sigma_ros_common.params import ConfigError, build, defaults, read_ros_parameters

PKG = Path(__file__).resolve().parents[1]
CONFIG = PKG / "config" / "core.yaml"
DOC = PKG.parents[1] / "docs" / "core.md"


def expected() -> dict:
    out = defaults(NodeParams)
    for section, cls in SECTIONS.items():
        out.update(defaults(cls, section))
    return out


def test_config_file_equals_the_dataclass_defaults():
    assert read_ros_parameters(CONFIG) == expected()


def test_the_document_names_every_parameter():
    text = DOC.read_text()
    missing = [name for name in expected() if f"`{name}`" not in text]
    assert not missing, missing


def test_bad_values_are_refused_naming_the_parameter():
    with pytest.raises(ConfigError, match=r"arbiter\.upgrade_dwell"):
        build(ArbiterParams, {"upgrade_dwell": -1.0}, "arbiter")
    with pytest.raises(ConfigError, match=r"map\.nonsense"):
        build(MapParams, {"nonsense": 1.0}, "map")
    with pytest.raises(ConfigError, match="pick_standoff"):
        build(MapParams, {"pick_standoff": 0.3, "robot_radius": 0.5}, "map")


def test_core_node_refuses_to_start_with_a_bad_parameter_or_world(launch):
    bad = launch("sigma_core", "core_node", namespace="/r1", params_files=[CONFIG], params={"tracker.max_speed": 9.0})
    assert bad.popen.wait(timeout=60) == 2
    assert "refusing to start" in bad.output() and "tracker.max_speed" in bad.output()
    world = launch("sigma_core", "core_node", namespace="/r1", params_files=[CONFIG],
                   params={"world_file": "/nonexistent/world.yaml"})
    assert world.popen.wait(timeout=60) == 2 and "world_file" in world.output()
