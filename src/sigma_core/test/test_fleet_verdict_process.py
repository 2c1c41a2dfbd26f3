"""core_node acts on ``fleet_model/verdict`` across real processes (MuJoCo sim, safety_node, core_node; issue #15).

The verdict arrives as the bridge publishes it (latched diagnostic_msgs/DiagnosticStatus: the class in ``message``,
WARN for a fault class): a normal verdict leaves the Edge AI's confidence alone; a fault verdict caps it at
``selfeval.fleet_fault_confidence`` (0.7) in the ``policy_health`` that safety reads, and the robot stays on its
Edge AI (0.7 is above the arbiter's and safety's thresholds). The bridge's side and the derated speed are shown on the
functional cores (sigma_bridge/test/test_fleet_model.py, test_fleet_verdict.py).
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from stack import NS, Stack

from sigma_interfaces.msg import CognitionDecision, PolicyHealth
from sigma_ros_common import qos

EDGE = 1
CAP = 0.7


def verdict(label: str, fault: bool) -> DiagnosticStatus:
    return DiagnosticStatus(level=DiagnosticStatus.WARN if fault else DiagnosticStatus.OK, name="fleet_model",
                            message=label, hardware_id="r1",
                            values=[KeyValue(key="class", value=label), KeyValue(key="fault", value=str(fault))])


def test_core_node_caps_its_edge_confidence_on_a_fault_verdict_and_not_on_a_normal_one(launch, ros_probe, tmp_path):
    st = Stack(launch, ros_probe, tmp_path)
    health = ros_probe.subscribe(PolicyHealth, f"{NS}/policy_health", qos.RELIABLE_10)
    pub = ros_probe.publisher(DiagnosticStatus, f"{NS}/fleet_model/verdict", qos.LATCHED)
    st.wait_commander(EDGE)
    ros_probe.wait_for_subscribers(pub, 1, timeout=30.0)

    def edge(ms: list[PolicyHealth]) -> list[float]:
        return [m.confidence for m in ms if m.source == CognitionDecision.SOURCE_EDGE_AI]

    pub.publish(verdict("normal", False))
    health.clear()
    # a healthy robot (normal verdict): ten consecutive Edge AI reports, the last of them above the cap
    ms = health.wait_for(lambda ms: len(edge(ms)) >= 10 and edge(ms)[-1] > CAP + 0.05, timeout=60)
    assert max(edge(ms)) > CAP + 0.05
    pub.publish(verdict("motor_temperature", True))
    health.clear()
    ms = health.wait_for(lambda ms: len(edge(ms)) >= 5 and all(c <= CAP + 1e-6 for c in edge(ms)[-5:]), timeout=30)
    assert all(c <= CAP + 1e-6 for c in edge(ms)[-5:]) and max(edge(ms)[-5:]) > 0.5  # capped, still commanding
    assert st.switches.latest().current == EDGE  # no fallback: the robot keeps working on its Edge AI
