"""The SROS2 policy (config/sros2/policy.xml): structure of the SROS2 0.2.0 format, and who may publish what under
DDS-Security's semantics (sros2 writes DENY rules before ALLOW rules; the first matching rule applies; default DENY;
topic expressions are fnmatch patterns over the DDS names ``rt/<ros name>``). DDS-Security itself is not available in
the pip wheels, so this evaluates the policy rather than running it."""

from __future__ import annotations

import fnmatch
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sigma_safety.gate_node import GATE_NAME, SUPERVISOR_NAME
from sigma_safety.supervisor_node import DRIVER_TOPICS

POLICY = Path(__file__).resolve().parents[3] / "config" / "sros2" / "policy.xml"
QUALIFIERS = {"ALLOW", "DENY"}
ROBOTS = ("r1", "r42")
SAFETY_OUTPUTS = (*DRIVER_TOPICS, "safety/status", "safety/events")
MEASUREMENTS = ("joint_states", "imu", "odom", "actuator_health", "battery_state", "humans", "brake_state")


def _enclaves() -> dict[str, ET.Element]:
    root = ET.parse(POLICY).getroot()
    return {e.get("path"): e for e in root.iter("enclave")}


def _fqn(name: str, ns: str) -> str:
    return name if name.startswith("/") else f"{ns.rstrip('/')}/{name}"


def may_publish(enclave: ET.Element, topic: str) -> bool:
    """DDS-Security's answer for a writer of ``topic`` (a fully qualified ROS name) in ``enclave``."""
    dds = "rt" + topic
    rules: dict[str, list[str]] = {"DENY": [], "ALLOW": []}
    for profile in enclave.iter("profile"):
        for topics in profile.findall("topics"):
            qualifier = topics.get("publish")
            if qualifier:
                rules[qualifier] += ["rt" + _fqn(t.text or "", profile.get("ns", "/")) for t in topics.findall("topic")]
    for qualifier in ("DENY", "ALLOW"):  # sros2's order within a grant
        if any(fnmatch.fnmatchcase(dds, pattern) for pattern in rules[qualifier]):
            return qualifier == "ALLOW"
    return False  # <default>DENY</default>


def test_policy_has_the_sros2_0_2_0_structure():
    root = ET.parse(POLICY).getroot()
    assert root.tag == "policy" and root.get("version") == "0.2.0"
    assert [c.tag for c in root] == ["enclaves"]
    enclaves = _enclaves()
    assert set(enclaves) == {"/sigma/safety", "/sigma/driver", "/sigma/onboard"}
    for enclave in enclaves.values():
        assert [c.tag for c in enclave] == ["profiles"]
        for profile in enclave.iter("profile"):
            assert profile.get("ns") and profile.get("node")
            for rules in profile:
                assert rules.tag in ("topics", "services", "actions")
                child = {"topics": "topic", "services": "service", "actions": "action"}[rules.tag]
                assert rules.attrib and set(rules.attrib.values()) <= QUALIFIERS
                assert [c.tag for c in rules] and all(c.tag == child and c.text for c in rules)


def test_the_safety_profiles_name_our_nodes():
    nodes = {p.get("node") for p in _enclaves()["/sigma/safety"].iter("profile")}
    assert nodes == {GATE_NAME, SUPERVISOR_NAME}


@pytest.mark.parametrize("robot", ROBOTS)
def test_only_the_safety_enclave_may_publish_driver_commands_and_safety_status(robot):
    enclaves = _enclaves()
    for topic in SAFETY_OUTPUTS:
        name = f"/{robot}/{topic}"
        allowed = {path for path, e in enclaves.items() if may_publish(e, name)}
        assert allowed == {"/sigma/safety"}, f"{name} may be published by {allowed}"


@pytest.mark.parametrize("robot", ROBOTS)
def test_only_the_driver_enclave_may_publish_what_the_supervisor_measures(robot):
    enclaves = _enclaves()
    for topic in MEASUREMENTS:
        name = f"/{robot}/{topic}"
        allowed = {path for path, e in enclaves.items() if may_publish(e, name)}
        assert allowed == {"/sigma/driver"}, f"{name} may be published by {allowed}"


def test_the_rest_of_the_robot_keeps_its_own_topics():
    onboard = _enclaves()["/sigma/onboard"]
    for name in ("/r1/cmd/primary_ai/cmd_vel", "/r1/cmd/edge_ai/joint_command", "/r1/policy_health", "/r1/tf",
                 "/r1/robot_description", "/r1/safety/estop", "/rosout"):
        assert may_publish(onboard, name), name
    assert not may_publish(onboard, "/r1/driver/anything_new")  # the whole driver/ namespace is closed
