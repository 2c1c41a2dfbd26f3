"""URDF limit parsing and declared parameters (defaults in config/, ranges, cross-checks)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from helpers import URDF

from sigma_safety.core.gate import GateParams
from sigma_safety.core.params import ConfigError, build, specs
from sigma_safety.core.policy import SECTIONS, config_from_flat
from sigma_safety.core.rules.thermal import ThermalParams
from sigma_safety.core.urdf import load_joint_limits, parse_joint_limits

CONFIG = Path(__file__).resolve().parents[1] / "config"


def test_fixture_limits_parsed_and_fixed_joints_skipped():
    lim = load_joint_limits(URDF)
    assert set(lim) == {"waist_yaw", "neck_yaw", "left_hip_pitch", "left_knee"}
    assert lim["left_knee"].lower == 0.0 and lim["left_knee"].upper == 2.4
    assert lim["left_knee"].velocity == 5.0 and lim["left_knee"].effort == 200.0


def _urdf(limit: str, kind: str = "revolute") -> str:
    return f'<robot name="r"><joint name="j" type="{kind}">{limit}</joint></robot>'


def test_a_bad_limit_refuses_the_start_as_a_config_error_naming_the_joint():
    # Every malformed <limit> case is tested once, in sigma_description (the reader); here: what the safety nodes get.
    with pytest.raises(ConfigError, match="lacks 'effort'") as err:
        parse_joint_limits(_urdf('<limit lower="0" upper="1" velocity="1"/>'))
    assert "'j'" in str(err.value)


def test_continuous_joint_is_unbounded_and_bad_xml_refused(tmp_path):
    lim = parse_joint_limits(_urdf('<limit velocity="1" effort="2"/>', "continuous"))
    assert lim["j"].lower == -math.inf and lim["j"].upper == math.inf
    with pytest.raises(ConfigError, match="not valid XML"):
        parse_joint_limits("<robot>")
    with pytest.raises(ConfigError, match="no moving joint"):
        parse_joint_limits("<robot name='r'/>")
    with pytest.raises(ConfigError, match="urdf_path: cannot read"):
        load_joint_limits(tmp_path / "missing.urdf")


def test_config_yaml_declares_exactly_the_dataclass_defaults():
    data = yaml.safe_load((CONFIG / "safety.yaml").read_text())["/**"]["ros__parameters"]
    declared = {f"{s}.{n}": d for s, cls in [*SECTIONS.items(), ("gate", GateParams)] for n, d, _ in specs(cls)}
    rule_keys = {k: v for k, v in data.items() if "." in k}
    assert rule_keys == declared
    assert {k for k in data if "." not in k} == {"urdf_path", "reset_token_file", "status_rate", "latch_file",
                                                 "realtime_priority", "lock_memory"}
    assert data["reset_token_file"] == "", "no secret may be configured in the repository"


def test_every_parameter_documents_unit_and_range():
    for cls in [*SECTIONS.values(), GateParams]:
        for name, default, spec in specs(cls):
            assert spec.unit and spec.description, name
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                assert spec.low is not None and spec.high is not None, name
                assert spec.low <= default <= spec.high, name


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(ConfigError, match=r"thermal.limit_temperature=500.0 is above its maximum"):
        config_from_flat({"thermal.limit_temperature": 500.0})
    with pytest.raises(ConfigError, match=r"thermal.warning_temperature: expected a number"):
        config_from_flat({"thermal.warning_temperature": "hot"})
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) thermal.bogus"):
        config_from_flat({"thermal.bogus": 1.0})
    with pytest.raises(ConfigError, match=r"unknown parameter 'nonsense'"):
        config_from_flat({"nonsense": 1.0})
    with pytest.raises(ConfigError, match="reset_temperature < warning_temperature < limit_temperature"):
        build(ThermalParams, {"warning_temperature": 95.0}, "thermal")
    with pytest.raises(ConfigError, match="must be finite"):
        config_from_flat({"human_proximity.human_speed": float("nan")})
    with pytest.raises(ConfigError, match="expected an integer"):
        config_from_flat({"ai_self_suspension.suspend_count": 2.5})
    cfg = config_from_flat({"thermal.limit_temperature": 100, "ai_self_suspension.suspend_count": 7})
    assert cfg.thermal.limit_temperature == 100.0 and cfg.ai_self_suspension.suspend_count == 7


def test_every_parameter_and_fault_code_is_documented():
    doc = (Path(__file__).resolve().parents[3] / "docs" / "safety.md").read_text()
    for section, cls in [*SECTIONS.items(), ("gate", GateParams)]:
        for name, _, _ in specs(cls):
            assert f"`{section}.{name}`" in doc, f"{section}.{name} missing from docs/safety.md"
    from sigma_safety.core.rules import authority, driver, geofence, motion, overload, proximity, thermal, watchdog

    for module in (overload, thermal, proximity, motion, geofence, watchdog, driver):
        for value in vars(module).values():
            if isinstance(value, int) and not isinstance(value, bool) and 100 < value < 1000:
                assert f"| {value} |" in doc, f"fault code {value} ({module.__name__}) missing from docs/safety.md"
    assert "| 701 / 702 |" in doc and f"| {authority.NO_AUTHORITY} |" in doc


def test_tests_named_in_docs_exist():
    import re

    doc = (Path(__file__).resolve().parents[3] / "docs" / "safety.md").read_text()
    here = Path(__file__).parent
    sources = "\n".join(p.read_text() for p in here.glob("test_*.py"))
    for token in set(re.findall(r"\btest_\w+", doc)):
        if (here / f"{token}.py").exists():
            continue
        assert re.search(rf"def {token}", sources), f"docs/safety.md names {token}, which no test defines"


def test_kernel_preemption_model_is_read_from_the_build_config_and_the_boot_mode():
    from sigma_ros_common.realtime import kernel_preemption, parse_preemption

    none_dynamic = "CONFIG_PREEMPT_NONE=y\n# CONFIG_PREEMPT is not set\nCONFIG_PREEMPT_DYNAMIC=y\nCONFIG_PREEMPTION=y"
    assert parse_preemption(none_dynamic) == "none (dynamic: boot default)"
    assert parse_preemption(none_dynamic, "none voluntary (full) lazy\n") == "full (dynamic)"
    assert parse_preemption("CONFIG_PREEMPT_RT=y\nCONFIG_PREEMPT=y") == "rt"
    assert parse_preemption("CONFIG_PREEMPT_VOLUNTARY=y") == "voluntary"
    assert parse_preemption("") == "unknown"
    assert kernel_preemption().split()[0] in {"none", "voluntary", "full", "lazy", "rt", "unknown"}
