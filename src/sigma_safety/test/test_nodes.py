"""The supervisor and gate as real processes, driven across processes by the test probe (real DDS)."""

from __future__ import annotations

import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from helpers import SECRET
from rclpy.serialization import serialize_message
from rosio import Hardware, start_safety, wait_status
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from sigma_interfaces.msg import SafetyEvent, SafetyStatus
from sigma_interfaces.srv import EmergencyStop, ResetSafety
from sigma_ros_common import qos

NOMINAL = SafetyStatus.LEVEL_NOMINAL


@pytest.fixture
def hardware(ros_probe):
    hw = Hardware(ros_probe).start()
    yield hw
    hw.stop()


def _outputs(probe):
    return (probe.subscribe(SafetyStatus, "safety/status", qos.LATCHED),
            probe.subscribe(Bool, "driver/brake", qos.LATCHED),
            probe.subscribe(JointState, "driver/joint_command", qos.COMMANDS),
            probe.subscribe(Twist, "driver/cmd_vel", qos.COMMANDS))


def test_commands_pass_clamped_only_from_the_allowed_authority(launch, ros_probe, hardware):
    status, brake, joints, vel = _outputs(ros_probe)
    proc = start_safety(launch)
    wait_status(status, lambda m: m.level == NOMINAL and m.authority == SafetyStatus.AUTHORITY_PRIMARY_AI)
    brake.wait_for(lambda ms: ms and ms[-1].data is False)
    edge = ros_probe.publisher(JointState, "cmd/edge_ai/joint_command", qos.COMMANDS)
    primary = ros_probe.publisher(JointState, "cmd/primary_ai/joint_command", qos.COMMANDS)
    primary_vel = ros_probe.publisher(Twist, "cmd/primary_ai/cmd_vel", qos.COMMANDS)
    for pub in (edge, primary, primary_vel):
        ros_probe.wait_for_subscribers(pub)
    edge.publish(JointState(name=["neck_yaw"], position=[0.01]))
    primary.publish(JointState(name=["left_knee"], position=[9.0]))  # beyond the URDF upper limit 2.4
    # (hold commands from the start-up stop may also arrive: they have zero velocity limits)
    out = joints.wait_for(lambda ms: any(list(m.name) == ["left_knee"] and m.velocity[0] > 0 for m in ms))
    knee = next(m for m in out if list(m.name) == ["left_knee"] and m.velocity[0] > 0)
    assert 1.2 < knee.position[0] <= 2.4 and knee.velocity[0] <= 5.0
    assert not any("neck_yaw" in m.name and 0.01 in m.position for m in out), "the edge AI's command passed"
    tw = Twist()
    tw.linear.x = 5.0
    primary_vel.publish(tw)
    moving = vel.wait_for(lambda ms: any(m.linear.x > 0 for m in ms))
    assert max(m.linear.x for m in moving) == pytest.approx(1.0)  # gate.max_linear_speed at scale 1
    assert proc.alive


def test_emergency_stop_brakes_and_reset_requires_the_token(launch, ros_probe, hardware):
    status, brake, _, vel = _outputs(ros_probe)
    events = ros_probe.subscribe(SafetyEvent, "safety/events", qos.SAFETY_EVENTS)
    start_safety(launch)
    wait_status(status, lambda m: m.level == NOMINAL)
    res = ros_probe.call(EmergencyStop, "safety/emergency_stop", EmergencyStop.Request(reason="test", requester="op1"))
    assert res.accepted
    s = wait_status(status, lambda m: m.level == SafetyStatus.LEVEL_EMERGENCY_STOP)
    assert s.brake_engaged and s.speed_scale == 0.0 and 601 in [f.code for f in s.active_faults]
    brake.wait_for(lambda ms: ms and ms[-1].data is True)
    vel.wait_for(lambda ms: any(m.linear.x == 0.0 for m in ms))  # hold: zero base velocity
    ev = events.wait_for(lambda ms: any(e.level == SafetyStatus.LEVEL_EMERGENCY_STOP for e in ms))
    assert any("op1" in e.cause for e in ev)
    bad = ros_probe.call(ResetSafety, "safety/reset", ResetSafety.Request(requester="eve", authorization_token="x"))
    assert not bad.success and "token is invalid" in bad.message
    good = ros_probe.call(ResetSafety, "safety/reset", ResetSafety.Request(requester="op1",
                                                                           authorization_token=SECRET))
    assert good.success, good.message
    wait_status(status, lambda m: m.level == NOMINAL)
    brake.wait_for(lambda ms: ms and ms[-1].data is False)


def test_reset_refused_when_no_token_is_configured(launch, ros_probe, hardware):
    status = ros_probe.subscribe(SafetyStatus, "safety/status", qos.LATCHED)
    start_safety(launch, token=None)
    wait_status(status, lambda m: m.level == NOMINAL)
    ros_probe.call(EmergencyStop, "safety/emergency_stop", EmergencyStop.Request(reason="t", requester="op"))
    res = ros_probe.call(ResetSafety, "safety/reset", ResetSafety.Request(requester="op", authorization_token=""))
    assert not res.success and "no reset token is configured" in res.message


def test_human_approach_slows_then_stops_and_resumes_after_leaving(launch, ros_probe, hardware):
    status = ros_probe.subscribe(SafetyStatus, "safety/status", qos.LATCHED)
    start_safety(launch)
    wait_status(status, lambda m: m.level == NOMINAL)
    hardware.humans = [(1.85, 0.0)]  # separation 1.5 m: between S_p(v=0) 1.31 m and S_p(v=1) 1.66 m
    s = wait_status(status, lambda m: 301 in [f.code for f in m.active_faults])
    assert s.level == SafetyStatus.LEVEL_DEGRADED and 0.0 < s.speed_scale < 1.0, s
    hardware.humans = [(1.0, 0.0)]
    s = wait_status(status, lambda m: 302 in [f.code for f in m.active_faults])
    assert s.level == SafetyStatus.LEVEL_PROTECTIVE_STOP and s.speed_scale == 0.0
    hardware.humans = []
    wait_status(status, lambda m: m.level == NOMINAL and m.speed_scale == 1.0)


def test_silent_and_malformed_inputs_become_faults_without_crashing(launch, ros_probe, hardware):
    status, _, _, _ = _outputs(ros_probe)
    proc = start_safety(launch)
    wait_status(status, lambda m: m.level == NOMINAL)
    hardware.silent.add("imu")
    s = wait_status(status, lambda m: any(f.code == 801 and f.source == "imu" for f in m.active_faults))
    assert s.level == SafetyStatus.LEVEL_PROTECTIVE_STOP
    hardware.silent.clear()
    hardware.joint_nan = True
    s = wait_status(status, lambda m: any(f.code == 802 for f in m.active_faults))
    assert "position[" in next(f.cause for f in s.active_faults if f.code == 802)
    bad = ros_probe.publisher(JointState, "joint_states", qos.SENSOR)
    bad.publish(JointState(name=["neck_yaw", "tail"], position=[0.0]))
    hardware.joint_nan = False
    wait_status(status, lambda m: m.level == NOMINAL)
    # bytes that are not a JointState (the supervisor reads joint_states serialized): cut off inside the effort array
    hardware.silent.add("joint_states")
    whole = serialize_message(hardware.messages()["joint_states"][0])
    for _ in range(5):
        bad.publish(whole[:-12])
        time.sleep(0.02)
    s = wait_status(status, lambda m: any(f.code == 803 and f.source == "joint_states" for f in m.active_faults))
    cause = next(f.cause for f in s.active_faults if f.code == 803)
    assert "not a sensor_msgs/JointState (truncated" in cause, cause
    assert s.level == SafetyStatus.LEVEL_PROTECTIVE_STOP
    hardware.silent.clear()
    wait_status(status, lambda m: m.level == NOMINAL)
    assert proc.alive


def test_hardware_estop_button_and_split_processes(launch, ros_probe, hardware):
    status, brake, _, _ = _outputs(ros_probe)
    start_safety(launch, exe="supervisor_node")
    start_safety(launch, exe="gate_node")
    wait_status(status, lambda m: m.level == NOMINAL)
    brake.wait_for(lambda ms: ms and ms[-1].data is False)
    button = ros_probe.publisher(Bool, "safety/estop", qos.reliable(10))
    ros_probe.wait_for_subscribers(button)
    button.publish(Bool(data=True))
    brake.wait_for(lambda ms: ms and ms[-1].data is True)
    button.publish(Bool(data=False))
    res = ros_probe.call(ResetSafety, "safety/reset", ResetSafety.Request(requester="op", authorization_token=SECRET))
    assert res.success, res.message
    brake.wait_for(lambda ms: ms and ms[-1].data is False)


def test_bad_configuration_refuses_to_start_naming_the_parameter(launch):
    proc = start_safety(launch, **{"thermal.warning_temperature": 95.0})
    proc.wait_for_output("refusing to start")
    assert proc.popen.wait(10) == 2
    assert "warning_temperature" in proc.output()
    proc = start_safety(launch, urdf_path="/nonexistent.urdf")
    proc.wait_for_output("refusing to start")
    assert "urdf_path" in proc.output()


def test_latched_emergency_stop_survives_a_restart_of_the_node(launch, ros_probe, hardware, tmp_path):
    latch = tmp_path / "latched.json"
    status = ros_probe.subscribe(SafetyStatus, "safety/status", qos.LATCHED)
    first = start_safety(launch, latch_file=str(latch))
    wait_status(status, lambda m: m.level == NOMINAL)
    ros_probe.call(EmergencyStop, "safety/emergency_stop", EmergencyStop.Request(reason="t", requester="op"))
    wait_status(status, lambda m: m.level == SafetyStatus.LEVEL_EMERGENCY_STOP)
    assert first.stop() == 0  # e.g. a crash and respawn
    status.clear()
    start_safety(launch, latch_file=str(latch))
    s = wait_status(status, lambda m: any("restored after restart" in f.cause for f in m.active_faults)
                    and all(f.latched for f in m.active_faults))  # inputs and AIs are back: only the latch is left
    assert s.level == SafetyStatus.LEVEL_EMERGENCY_STOP and s.brake_engaged
    res = ros_probe.call(ResetSafety, "safety/reset", ResetSafety.Request(requester="op", authorization_token=SECRET))
    assert res.success, res.message
    wait_status(status, lambda m: m.level == NOMINAL)
    assert latch.read_text() == "[]"


def test_degradation_chain_primary_to_edge_to_mechanical_fallback(launch, ros_probe, hardware):
    status, brake, _, vel = _outputs(ros_probe)
    events = ros_probe.subscribe(SafetyEvent, "safety/events", qos.SAFETY_EVENTS)
    start_safety(launch)
    wait_status(status, lambda m: m.level == NOMINAL and m.authority == SafetyStatus.AUTHORITY_PRIMARY_AI)
    primary = ros_probe.publisher(Twist, "cmd/primary_ai/cmd_vel", qos.COMMANDS)
    edge = ros_probe.publisher(Twist, "cmd/edge_ai/cmd_vel", qos.COMMANDS)
    ros_probe.wait_for_subscribers(primary)
    ros_probe.wait_for_subscribers(edge)

    def send(pub, vx: float) -> None:
        tw = Twist()
        tw.linear.x = vx
        pub.publish(tw)

    hardware.confidence[0] = 0.1  # the primary AI's confidence collapses
    s = wait_status(status, lambda m: m.authority == SafetyStatus.AUTHORITY_EDGE_AI)
    assert s.level == SafetyStatus.LEVEL_DEGRADED and not s.brake_engaged
    assert any("primary_ai suspended" in e.cause for e in events.wait_for(
        lambda es: any("primary_ai suspended" in e.cause for e in es)))
    vel.clear()
    send(primary, 0.11)
    send(edge, 0.22)
    got = vel.wait_for(lambda ms: any(m.linear.x == pytest.approx(0.22) for m in ms))
    assert not any(m.linear.x == pytest.approx(0.11) for m in got), "a suspended AI's command passed"
    hardware.confidence[1] = 0.1  # and then the edge AI's
    s = wait_status(status, lambda m: m.authority == SafetyStatus.AUTHORITY_MECHANICAL_FALLBACK)
    assert s.brake_engaged and s.speed_scale == 0.0
    brake.wait_for(lambda ms: ms and ms[-1].data is True)
    hardware.confidence = {0: 0.9, 1: 0.9}  # recovery needs recover_count good reports, and is logged
    wait_status(status, lambda m: m.authority == SafetyStatus.AUTHORITY_PRIMARY_AI and m.level == NOMINAL)
    assert any("primary_ai (re)qualified" in e.cause for e in events.messages)


def test_only_the_gate_publishes_driver_topics_and_status_is_periodic(launch, ros_probe, hardware):
    status = ros_probe.subscribe(SafetyStatus, "safety/status", qos.LATCHED)
    diagnostics = ros_probe.subscribe(DiagnosticArray, "diagnostics", qos.reliable(10))
    start_safety(launch)
    wait_status(status, lambda m: m.level == NOMINAL)
    for topic in ("driver/joint_command", "driver/cmd_vel", "driver/brake"):
        ros_probe.wait_for_publishers(f"/{topic}")
        deadline = time.monotonic() + 20.0  # DDS announces an endpoint before its node's name: wait for the name
        while True:
            names = [i.node_name for i in ros_probe.node.get_publishers_info_by_topic(f"/{topic}")]
            if "_NODE_NAME_UNKNOWN_" not in names or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert names == ["command_gate"], topic
    status.clear()
    periodic = status.wait_for_count(10, timeout=10.0)  # unchanged state is still republished (>= 10 Hz)
    assert len({m.sequence for m in periodic}) == 1
    names = {s.name for arr in diagnostics.wait_for(
        lambda arrs: {"safety_supervisor: safety state", "command_gate: command gate"}
        <= {s.name for a in arrs for s in a.status}) for s in arr.status}
    assert "safety_supervisor: safety state" in names
