"""End to end with the simulated humanoid (sigma_sim's sim_node, real MuJoCo physics), across processes.

The simulator runs in real time (the supervisor's watchdogs use the wall clock) and publishes what the robot's
driver would; only the gate commands it. The test plays the AIs: it reports their confidence on policy_health and
streams commands into cmd/primary_ai/*.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import yaml
from ament_index_python.packages import get_package_share_directory
from geometry_msgs.msg import Twist
from helpers import SECRET
from nav_msgs.msg import Odometry
from rosio import CONFIG, RELAXED, Streamer, report_health, wait_status
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64

from sigma_interfaces.msg import SafetyStatus
from sigma_interfaces.srv import EmergencyStop, ResetSafety
from sigma_ros_common import qos
from sigma_sim_interfaces.srv import InjectFault

NS = "/r1"
L = SafetyStatus


def _world(tmp_path: Path) -> Path:
    """The warehouse geometry with one robot at (-10, 0) and no walking people (only injected ones)."""
    share = Path(get_package_share_directory("sigma_sim")) / "worlds"
    world = yaml.safe_load((share / "warehouse.yaml").read_text())
    world.update(mjcf=str(share / world["mjcf"]), humans=[], spawns=[[-10.0, 0.0, 0.0]])
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    return path


def _start(launch, ros_probe, tmp_path, base_mode: str = "planar", **safety_params):
    status = ros_probe.subscribe(SafetyStatus, f"{NS}/safety/status", qos.LATCHED)
    sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"], "world": str(_world(tmp_path)),
                                                  "base_mode": base_mode})
    sim.wait_for_output("sigma_sim ready", timeout=30.0)
    launch("sigma_safety", "safety_node", namespace=NS, params_files=[CONFIG],
           params={**RELAXED, **safety_params}, env={"SIGMA_SAFETY_RESET_TOKEN": SECRET})
    health = report_health(ros_probe, f"{NS}/policy_health")
    wait_status(status, lambda m: m.level == L.LEVEL_NOMINAL, timeout=30.0)
    return sim, status, health


def _inject(probe, kind: str, target: str = "", magnitude: float = 0.0, duration: float = 0.0) -> None:
    req = InjectFault.Request(kind=kind, target=target, magnitude=float(magnitude), duration=float(duration))
    res = probe.call(InjectFault, f"{NS}/sim/inject_fault", req, timeout=15.0)
    assert res.accepted, res.message


def _has(code: int):
    return lambda m: code in [f.code for f in m.active_faults]


def _spread(msgs: list[JointState], joint: str) -> float:
    i = list(msgs[-1].name).index(joint)
    return max(m.position[i] for m in msgs) - min(m.position[i] for m in msgs)


def test_overheating_derates_then_shuts_down_and_the_joint_stops_moving(launch, ros_probe, tmp_path):
    joints = ros_probe.subscribe(JointState, f"{NS}/joint_states", qos.SENSOR)
    out = ros_probe.subscribe(JointState, f"{NS}/driver/joint_command", qos.COMMANDS)
    sim, status, health = _start(launch, ros_probe, tmp_path)
    cmd = ros_probe.publisher(JointState, f"{NS}/cmd/primary_ai/joint_command", qos.COMMANDS)
    clock = ros_probe.node.get_clock()

    def wave() -> None:  # the AI swings the left shoulder back and forth
        t = clock.now().nanoseconds * 1e-9
        cmd.publish(JointState(name=["left_shoulder_pitch"], position=[-0.8 + 0.6 * math.sin(2.0 * t)]))

    streamer = Streamer(wave, 50.0)
    try:
        joints.wait_for(lambda ms: len(ms) > 100 and _spread(ms[-100:], "left_shoulder_pitch") > 0.3, timeout=20.0)
        _inject(ros_probe, "overheat", "left_shoulder_pitch", 250.0)
        derated = wait_status(status, _has(201), timeout=60.0)
        assert derated.level == L.LEVEL_DEGRADED and 0.0 < derated.speed_scale < 1.0
        out.clear()
        scaled = out.wait_for(lambda ms: any(m.velocity and m.velocity[0] < 6.0 for m in ms), timeout=10.0)
        assert all(m.velocity[0] <= 6.0 * derated.speed_scale + 0.5 for m in scaled if m.velocity)
        stopped = wait_status(status, _has(202), timeout=60.0)
        assert stopped.level == L.LEVEL_EMERGENCY_STOP and stopped.brake_engaged
        sim.wait_for_output("brake engaged", timeout=10.0)
        joints.clear()
        after = joints.wait_for_count(150, timeout=20.0)  # ~1.5 s of physics while the AI keeps commanding
        assert _spread(after, "left_shoulder_pitch") < 0.02
        res = ros_probe.call(ResetSafety, f"{NS}/safety/reset",
                             ResetSafety.Request(requester="op", authorization_token=SECRET))
        assert not res.success and 202 in res.blocking_fault_codes  # still hot
    finally:
        streamer.stop()
        health.stop()


def test_a_jammed_joint_straining_its_drive_is_capped_at_the_continuous_rating_not_cut(launch, ros_probe, tmp_path):
    """The I²t warning's torque cap reaches the drives (``driver/torque_limit``): a joint jammed while the AI drives
    it saturates at its peak rating until 80 % of the budget, then is held at the continuous rating, where the
    integral stands still; without the cap it would have been cut (latched emergency stop) ~0.7 s later."""
    joints = ros_probe.subscribe(JointState, f"{NS}/joint_states", qos.SENSOR)
    limit = ros_probe.subscribe(Float64, f"{NS}/driver/torque_limit", qos.LATCHED)
    sim, status, health = _start(launch, ros_probe, tmp_path)
    cmd = ros_probe.publisher(JointState, f"{NS}/cmd/primary_ai/joint_command", qos.COMMANDS)
    _inject(ros_probe, "stuck_joint", "left_shoulder_pitch")
    streamer = Streamer(lambda: cmd.publish(JointState(name=["left_shoulder_pitch"], position=[-1.5])), 50.0)
    try:
        warned = wait_status(status, _has(103), timeout=30.0)
        assert warned.level == L.LEVEL_DEGRADED and warned.torque_scale == 0.5
        limit.wait_for(lambda ms: ms and ms[-1].data == 0.5, timeout=5.0)
        sim.wait_for_output("torque limited to 50%", timeout=5.0)
        status.clear()
        joints.clear()
        held = joints.wait_for_count(400, timeout=30.0)[100:]  # 3 s at the cap, after 1 s to settle
        i = list(held[0].name).index("left_shoulder_pitch")
        efforts = [abs(m.effort[i]) for m in held]
        assert min(efforts) > 0.45 * 60.0 and max(efforts) <= 0.5 * 60.0 + 0.5  # URDF effort 60 N·m
        assert all(102 not in [f.code for f in m.active_faults] for m in status.messages)
        assert status.latest() is None or status.latest().level == L.LEVEL_DEGRADED
    finally:
        streamer.stop()
        health.stop()


def test_human_walking_at_the_robot_slows_then_stops_and_it_resumes_after(launch, ros_probe, tmp_path):
    _, status, health = _start(launch, ros_probe, tmp_path)
    try:
        # starts 6.4 m ahead at 1.2 m/s: stop range (~1.7 m) after ~3.9 s; the fault ends at 4.5 s, ~1 m away,
        # before the person walks into the robot (a collision would rightly latch an unsafe-motion fault)
        _inject(ros_probe, "human_approach", magnitude=1.2, duration=4.5)
        slow = wait_status(status, _has(301), timeout=20.0)
        assert slow.level == L.LEVEL_DEGRADED and 0.0 < slow.speed_scale < 1.0
        stop = wait_status(status, _has(302), timeout=20.0)
        assert stop.level == L.LEVEL_PROTECTIVE_STOP and stop.speed_scale == 0.0
        wait_status(status, lambda m: m.level == L.LEVEL_NOMINAL and m.sequence > stop.sequence, timeout=30.0)
    finally:
        health.stop()


def test_fall_is_an_emergency_stop_with_brakes(launch, ros_probe, tmp_path):
    brake = ros_probe.subscribe(Bool, f"{NS}/driver/brake", qos.LATCHED)
    _, status, health = _start(launch, ros_probe, tmp_path, base_mode="free")
    try:
        _inject(ros_probe, "push", magnitude=150.0)
        fallen = wait_status(status, lambda m: m.level == L.LEVEL_EMERGENCY_STOP, timeout=20.0)
        assert {f.code for f in fallen.active_faults} & {404, 405}, fallen.active_faults
        brake.wait_for(lambda ms: ms and ms[-1].data is True, timeout=10.0)
    finally:
        health.stop()


def test_geofence_approach_slows_then_stops_inside(launch, ros_probe, tmp_path):
    fence = tmp_path / "fence.yaml"  # the west boundary 2 m behind the robot
    fence.write_text(yaml.safe_dump({"sites": {"cell": {"keep_in": {"cell": [[-12, -5], [0, -5], [0, 5], [-12, 5]]}}}}))
    odom = ros_probe.subscribe(Odometry, f"{NS}/odom", qos.SENSOR)
    _, status, health = _start(launch, ros_probe, tmp_path, **{"geofence.file": str(fence), "geofence.site": "cell"})
    cmd = ros_probe.publisher(Twist, f"{NS}/cmd/primary_ai/cmd_vel", qos.COMMANDS)
    back = Twist()
    back.linear.x = -1.0
    streamer = Streamer(lambda: cmd.publish(back), 20.0)
    try:
        slow = wait_status(status, _has(501), timeout=20.0)
        assert slow.level == L.LEVEL_DEGRADED and slow.speed_scale < 1.0
        wait_status(status, lambda m: bool({f.code for f in m.active_faults} & {502, 503}), timeout=20.0)
        odom.clear()
        last = odom.wait_for_count(25, timeout=10.0)[-25:]
        assert statistics.fmean(abs(m.twist.twist.linear.x) for m in last) < 0.15
        assert min(m.pose.pose.position.x for m in last) > -12.1  # stopped at the fence, not through it
    finally:
        streamer.stop()
        health.stop()


def test_emergency_stop_engages_the_brakes_and_unauthorized_reset_is_refused(launch, ros_probe, tmp_path):
    brake = ros_probe.subscribe(Bool, f"{NS}/driver/brake", qos.LATCHED)
    sim, status, health = _start(launch, ros_probe, tmp_path)
    try:
        res = ros_probe.call(EmergencyStop, f"{NS}/safety/emergency_stop",
                             EmergencyStop.Request(reason="e2e", requester="op"))
        assert res.accepted
        brake.wait_for(lambda ms: ms and ms[-1].data is True, timeout=10.0)
        sim.wait_for_output("brake engaged", timeout=10.0)
        res = ros_probe.call(ResetSafety, f"{NS}/safety/reset",
                             ResetSafety.Request(requester="intruder", authorization_token="letmein"))
        assert not res.success and "authorization token is invalid" in res.message
        assert status.latest().level == L.LEVEL_EMERGENCY_STOP
        res = ros_probe.call(ResetSafety, f"{NS}/safety/reset",
                             ResetSafety.Request(requester="op", authorization_token=SECRET))
        assert res.success, res.message
        sim.wait_for_output("brake released", timeout=10.0)
    finally:
        health.stop()

