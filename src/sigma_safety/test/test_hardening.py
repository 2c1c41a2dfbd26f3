"""Regression tests of the adversarial review (issue #18 findings 1 and 3, issue #19 item 5), as real processes.

Each reproduces the attack first: another process on the robot's graph (the test probe, node ``/test_probe``)
publishes what only the safety layer may publish. With the simulated humanoid (real MuJoCo physics) the base must
not move beyond a small bound and the supervisor must escalate to a latched emergency stop.
"""

from __future__ import annotations

import math
import threading
import time

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rosio import Hardware, Streamer, start_safety, wait_status
from std_msgs.msg import Bool
from test_e2e_sim import NS, _inject, _start

from sigma_interfaces.msg import SafetyStatus
from sigma_interfaces.srv import EmergencyStop
from sigma_ros_common import qos
from sigma_safety.core.rules.driver import BRAKE_NOT_APPLIED, FOREIGN_PUBLISHER

L = SafetyStatus
MAX_DRIFT = 0.05  # [m] the base may move this much while attacked (1.37 m before the fix)


class Track:
    """Largest planar distance of the base from where it was when ``start`` was called."""

    def __init__(self, probe) -> None:
        self.lock = threading.Lock()
        self.origin: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None
        self.max_drift = 0.0
        self.samples = 0
        probe.node.create_subscription(Odometry, f"{NS}/odom", self._on, qos.SENSOR)

    def _on(self, m: Odometry) -> None:
        p = (m.pose.pose.position.x, m.pose.pose.position.y)
        with self.lock:
            self.last = p
            if self.origin is not None:
                self.samples += 1
                self.max_drift = max(self.max_drift, math.dist(p, self.origin))

    def wait_samples(self, n: int, timeout: float = 30.0) -> None:
        """Block until ``n`` odometry samples have arrived since ``start`` (the attack runs meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.samples < n:
            assert time.monotonic() < deadline, f"only {self.samples} odometry samples within {timeout} s"
            time.sleep(0.05)

    def start(self) -> None:
        with self.lock:
            assert self.last is not None, "no odometry yet"
            self.origin, self.max_drift, self.samples = self.last, 0.0, 0


def _attack(probe, release_brake: bool) -> Streamer:
    """The review's attack: ``driver/brake`` = false once, then ``driver/cmd_vel`` 0.5 m/s at 50 Hz."""
    if release_brake:
        brake = probe.publisher(Bool, f"{NS}/driver/brake", qos.LATCHED)
        brake.publish(Bool(data=False))
    vel = probe.publisher(Twist, f"{NS}/driver/cmd_vel", qos.COMMANDS)
    drive = Twist()
    drive.linear.x = 0.5
    return Streamer(lambda: vel.publish(drive), 50.0)


def _names_attacker(m: SafetyStatus) -> bool:
    """Escalated by the graph check, which names the other publisher (the gate's own check may come first)."""
    return any(f.code == FOREIGN_PUBLISHER and "/test_probe" in f.cause for f in m.active_faults)


def test_finding1_brakes_cannot_be_released_and_the_robot_driven_during_an_emergency_stop(launch, ros_probe, tmp_path):
    brake_state = ros_probe.subscribe(Bool, f"{NS}/brake_state", qos.LATCHED)
    track = Track(ros_probe)
    _, status, health = _start(launch, ros_probe, tmp_path)
    try:
        ros_probe.call(EmergencyStop, f"{NS}/safety/emergency_stop", EmergencyStop.Request(reason="t", requester="op"))
        wait_status(status, lambda m: m.level == L.LEVEL_EMERGENCY_STOP and m.brake_engaged)
        brake_state.wait_for(lambda ms: ms and ms[-1].data is True)  # the driver reports the brake it applies
        track.start()
        attack = _attack(ros_probe, release_brake=True)
        try:
            escalated = wait_status(status, _names_attacker, timeout=15.0)
            track.wait_samples(track.samples + 100)  # ~2 s more of the attack (odometry at 50 Hz)
        finally:
            attack.stop()
        assert escalated.level == L.LEVEL_EMERGENCY_STOP and escalated.brake_engaged
        assert all(f.latched for f in escalated.active_faults if f.code in (FOREIGN_PUBLISHER, BRAKE_NOT_APPLIED))
        assert track.max_drift < MAX_DRIFT, f"the base moved {track.max_drift:.3f} m"
        assert brake_state.wait_for(lambda ms: ms and ms[-1].data is True)  # re-engaged by the gate
    finally:
        health.stop()


def test_finding1_robot_cannot_be_driven_behind_the_gate_in_a_protective_stop(launch, ros_probe, tmp_path):
    track = Track(ros_probe)
    _, status, health = _start(launch, ros_probe, tmp_path)
    try:
        # a person walks up and stays 1 m in front: protective stop, brakes released (authority kept)
        status.clear()  # (the start-up stop is in the history)
        _inject(ros_probe, "human_approach", magnitude=1.2, duration=60.0)
        stop = wait_status(status, lambda m: m.level == L.LEVEL_PROTECTIVE_STOP, timeout=30.0)
        assert not stop.brake_engaged
        track.start()
        attack = _attack(ros_probe, release_brake=False)
        try:
            escalated = wait_status(status, _names_attacker, timeout=15.0)
            track.wait_samples(track.samples + 100)
        finally:
            attack.stop()
        assert escalated.level == L.LEVEL_EMERGENCY_STOP and escalated.brake_engaged
        assert track.max_drift < MAX_DRIFT, f"the base moved {track.max_drift:.3f} m"
    finally:
        health.stop()


def test_finding3_gate_node_on_its_own_does_not_follow_a_forged_safety_status(launch, ros_probe):
    hardware = Hardware(ros_probe).start()  # joint_states for the gate's measured posture
    brake = ros_probe.subscribe(Bool, "driver/brake", qos.LATCHED)
    vel = ros_probe.subscribe(Twist, "driver/cmd_vel", qos.COMMANDS)
    gate = start_safety(launch, exe="gate_node")
    gate.wait_for_output("command gate ready", timeout=30.0)
    forged = ros_probe.publisher(SafetyStatus, "safety/status", qos.LATCHED)
    cmd = ros_probe.publisher(Twist, "cmd/primary_ai/cmd_vel", qos.COMMANDS)
    ros_probe.wait_for_subscribers(forged)
    ros_probe.wait_for_subscribers(cmd)
    go = Twist()
    go.linear.x = 0.8

    def tick() -> None:  # level NOMINAL, primary AI, brakes off, full speed: "go"
        forged.publish(SafetyStatus(level=L.LEVEL_NOMINAL, authority=L.AUTHORITY_PRIMARY_AI, speed_scale=1.0,
                                    torque_scale=1.0, brake_engaged=False, sequence=1))
        cmd.publish(go)

    streamer = Streamer(tick, 20.0)
    try:
        vel.clear()
        vel.wait_for_count(50, timeout=15.0)  # >= 1 s of gate output while the forgery runs
        assert all(m.linear.x == 0.0 for m in vel.messages), "a forged safety/status let a command through"
        assert brake.latest() is not None and brake.latest().data is True
        assert all(m.data is True for m in brake.messages)
        gate.wait_for_output("failing safe", timeout=15.0)  # and it says who else publishes safety/status
        assert "/test_probe" in gate.output()
    finally:
        streamer.stop()
        hardware.stop()


def test_ctrl_c_stops_the_safety_node_without_errors(launch, ros_probe):
    """Issue #19 item 5: Ctrl-C used to make a timer publish on a dead context (FATAL "publisher's context is
    invalid"). High rates make the race likely (2 of 6 stops after a few seconds printed it before the fix)."""
    hardware = Hardware(ros_probe).start()
    status = ros_probe.subscribe(SafetyStatus, "safety/status", qos.LATCHED)
    try:
        for _ in range(6):
            status.clear()
            proc = start_safety(launch, status_rate=1000.0, **{"gate.hold_rate": 200.0})
            wait_status(status, lambda m: m.level == L.LEVEL_NOMINAL, timeout=30.0)  # running, timers busy
            status.wait_for_count(len(status.messages) + 200, timeout=10.0)
            assert proc.stop() == 0
            bad = [line for line in proc.output().splitlines()
                   if "[FATAL]" in line or "[ERROR]" in line or "Traceback" in line]
            assert not bad, "\n".join(bad)
    finally:
        hardware.stop()
