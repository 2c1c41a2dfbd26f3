"""Command gate node: the only publisher of ``driver/*``. Every command from ``cmd/<authority>/*`` is filtered by
``CommandGate``; on entering a stop it immediately sends the brake, a zero base velocity and the hold posture, and
re-sends them at ``gate.hold_rate`` while stopped. The drives' torque limit (``driver/torque_limit``, latched) follows
the safety state's torque scale. It also watches ``driver/cmd_vel``, ``driver/brake``, ``driver/torque_limit`` and the
driver's ``brake_state``: while stopped, a moving base command or a released brake that it did not send, and at any
time a torque limit above the safety state's, is overridden at once (someone else on the graph is driving the robot;
the supervisor escalates).

Followed safety state: in ``safety_node`` the supervisor hands it over in memory (``apply_state``), and the measured
joint positions with it (one ``joint_states`` intake per process). Run on its own (``gate_node``), the gate follows
``safety/status`` only from the one publisher that is its own supervisor
(``<namespace>/safety_supervisor``, checked on the graph and per message by the publisher's GID); any other
publisher of that topic puts the gate into a fail-safe stop (brakes, nothing passes) until it is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64

from sigma_interfaces.msg import SafetyStatus
from sigma_ros_common import qos
from sigma_ros_common.callbacks import quiet_on_shutdown, quiet_timer
from sigma_safety import convert
from sigma_safety.core.gate import CommandGate, GateParams, JointCommand, Verdict
from sigma_safety.core.gate import Twist as CoreTwist
from sigma_safety.core.graph import Endpoint, trusted_source
from sigma_safety.core.model import Authority, SafetyState
from sigma_safety.core.urdf import JointLimit

AUTHORITY_TOPICS = {Authority.PRIMARY_AI: "primary_ai", Authority.EDGE_AI: "edge_ai"}
GATE_NAME = "command_gate"
SUPERVISOR_NAME = "safety_supervisor"
WATCH_PERIOD = 0.1  # [s] fail-safe check for a stale state (the hold timer runs only while stopped)
SOURCE_PERIOD = 0.5  # [s] graph check of who publishes safety/status (standalone gate)


class GateNode(Node):
    """Thin shell around ``CommandGate``."""

    def __init__(self, settings_factory: Callable[[Node], tuple[GateParams, dict[str, JointLimit]]],
                 follow_status: bool = True, measure_joints: bool = True, **kwargs: Any) -> None:
        super().__init__(GATE_NAME, **kwargs)
        params, limits = settings_factory(self)
        self.gate = CommandGate(params, limits)
        self.command_listeners: list[Callable[[dict[str, float]], None]] = []
        self.foreign_listeners: list[Callable[[str, str], None]] = []  # (topic, what): a command we did not send
        self.passed = 0
        self.blocked = 0
        self.countered = 0  # commands on driver/* that were not ours, overridden while stopped
        self.last_block = ""
        self._brake: bool | None = None
        self._torque: float | None = None
        self._ticks = 0
        self._joint_pub = self.create_publisher(JointState, "driver/joint_command", qos.COMMANDS)
        self._vel_pub = self.create_publisher(Twist, "driver/cmd_vel", qos.COMMANDS)
        self._brake_pub = self.create_publisher(Bool, "driver/brake", qos.LATCHED)
        self._torque_pub = self.create_publisher(Float64, "driver/torque_limit", qos.LATCHED)
        self._diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", qos.reliable(10))
        safe = self._safe
        for auth, name in AUTHORITY_TOPICS.items():
            self.create_subscription(JointState, f"cmd/{name}/joint_command",
                                     safe(lambda m, a=auth: self._on_joint_command(a, m)), qos.COMMANDS)
            self.create_subscription(Twist, f"cmd/{name}/cmd_vel", safe(lambda m, a=auth: self._on_cmd_vel(a, m)),
                                     qos.COMMANDS)
        if measure_joints:  # in-process, the supervisor hands the measured positions over (one intake, not two)
            self.create_subscription(JointState, "joint_states", safe(self._on_joint_states), qos.SENSOR)
        # Watch what reaches the driver: ours, or someone else's.
        self.create_subscription(Twist, "driver/cmd_vel", safe(self._on_driver_twist), qos.COMMANDS)
        self.create_subscription(Bool, "driver/brake", safe(self._on_driver_brake), qos.LATCHED)
        self.create_subscription(Bool, "brake_state", safe(self._on_brake_state), qos.LATCHED)
        self.create_subscription(Float64, "driver/torque_limit", safe(self._on_driver_torque), qos.LATCHED)
        self.follow_status = follow_status
        self._trusted_gid: bytes | None = None
        self._source_checked = -1e9
        if follow_status:  # standalone; in-process, the supervisor hands states over directly (and in order)
            self.gate.set_source_fault("no verified safety/status publisher yet")
            on_status = safe(self._on_status)  # two parameters: rclpy then passes the message info (publisher GID)
            self.create_subscription(SafetyStatus, "safety/status", lambda m, info: on_status(m, info), qos.LATCHED)
        self._hold_timer = self.create_timer(1.0 / params.hold_rate, quiet_timer(self.context, self._hold_tick))
        self.create_timer(WATCH_PERIOD, quiet_timer(self.context, self._watch_tick))
        self._publish_brake(time.monotonic())
        self.get_logger().info(f"command gate ready: {len(limits)} joints")

    def _safe(self, fn: Callable[..., None]) -> Callable[..., None]:
        return quiet_on_shutdown(self.context, fn)

    # ----- safety state -----

    def apply_state(self, state: SafetyState) -> None:
        """Adopt a safety state (from the in-process supervisor or a verified ``safety/status``)."""
        now = time.monotonic()
        stopping = self.gate.set_state(state, now)
        limit = self.gate.torque_limit()
        raising = limit is not None and limit > (self._torque if self._torque is not None else 1.0)
        if raising:  # torque back before the brakes let go: a released joint never hangs limp
            self._publish_torque(now)
        self._publish_brake(now)  # brakes first: the fastest way to stop
        if stopping:
            self._send_hold(now)
        if not raising:  # torque lowered after the brakes hold
            self._publish_torque(now)
        self._hold_timer_for(now)

    def _on_status(self, msg: SafetyStatus, info: dict) -> None:
        gid = bytes((info.get("publisher_gid") or {}).get("data", b""))
        if self._trusted_gid is None or gid[:len(self._trusted_gid)] != self._trusted_gid:
            self._check_source(time.monotonic(), force=True)  # a respawned supervisor has a new GID
            if self._trusted_gid is None or gid[:len(self._trusted_gid)] != self._trusted_gid:
                return  # not from our supervisor: ignored (the gate stays, or goes, fail safe)
        self.apply_state(convert.state_from_msg(msg, time.monotonic()))

    def _check_source(self, now: float, force: bool = False) -> None:
        """Standalone gate: trust ``safety/status`` only while our own supervisor is its only publisher."""
        if not self.follow_status or (not force and now - self._source_checked < SOURCE_PERIOD) or \
                now - self._source_checked < 0.02:
            return
        self._source_checked = now
        pubs = [Endpoint(i.node_namespace, i.node_name, bytes(i.endpoint_gid))
                for i in self.get_publishers_info_by_topic("safety/status")]
        allowed = f"{self.get_namespace().rstrip('/')}/{SUPERVISOR_NAME}"
        check = trusted_source(pubs, allowed)
        self._trusted_gid = check.gid
        if check.gid is None:
            reason = f"safety/status {check.reason}"
            if reason != self.gate.source_fault and pubs:  # someone else publishes it: say so once
                self.get_logger().error(f"{reason}: failing safe (brakes on, nothing passes)")
            self.gate.set_source_fault(reason)
            self._publish_brake(now)
            self._send_hold(now)
        else:
            if self.gate.source_fault is not None:
                self.get_logger().info(f"safety/status: {check.reason}; following it")
            self.gate.set_source_fault(None)
        self._hold_timer_for(now)

    # ----- inputs -----

    def _on_joint_states(self, msg: JointState) -> None:
        if len(msg.position) == len(msg.name):
            self.gate.set_measured(list(msg.name), list(msg.position))

    def _count(self, verdict: Verdict) -> None:
        if verdict.passed:
            self.passed += 1
        else:
            self.blocked += 1
            self.last_block = verdict.reason

    def _on_joint_command(self, sender: Authority, msg: JointState) -> None:
        try:
            verdict = self.gate.joint_command(sender, list(msg.name), list(msg.position), list(msg.velocity),
                                              time.monotonic())
        except Exception as exc:  # noqa: BLE001 - a malformed command is dropped, never fatal
            verdict = Verdict(None, f"command could not be processed: {exc!r}")
        self._count(verdict)
        if isinstance(verdict.command, JointCommand):
            self._send_joints(verdict.command)

    def _on_cmd_vel(self, sender: Authority, msg: Twist) -> None:
        try:
            verdict = self.gate.cmd_vel(sender, msg.linear.x, msg.linear.y, msg.angular.z, time.monotonic())
        except Exception as exc:  # noqa: BLE001
            verdict = Verdict(None, f"command could not be processed: {exc!r}")
        self._count(verdict)
        if isinstance(verdict.command, CoreTwist):
            self._send_twist(verdict.command)

    def _on_driver_twist(self, msg: Twist) -> None:
        now = time.monotonic()
        lin, ang = msg.linear, msg.angular
        if self.gate.was_sent("driver/cmd_vel", (lin.x, lin.y, lin.z, ang.x, ang.y, ang.z), now):
            return
        self._foreign("driver/cmd_vel", f"base velocity ({lin.x:.3g}, {lin.y:.3g}, {ang.z:.3g})")
        if self.gate.counters_twist(lin.x, lin.y, ang.z, now):
            self.countered += 1
            self._send_twist(CoreTwist())

    def _on_driver_brake(self, msg: Bool) -> None:
        now = time.monotonic()
        if not self.gate.was_sent("driver/brake", bool(msg.data), now):
            self._foreign("driver/brake", f"brake {'engaged' if msg.data else 'released'}")
        self._on_brake_state(msg)

    def _on_brake_state(self, msg: Bool) -> None:
        now = time.monotonic()
        if self.gate.counters_brake(bool(msg.data), now):
            self.countered += 1
            self._send_brake(True, now)

    def _on_driver_torque(self, msg: Float64) -> None:
        now = time.monotonic()
        if not self.gate.was_sent("driver/torque_limit", msg.data, now):
            self._foreign("driver/torque_limit", f"torque limit {msg.data:.3g}")
            if self.gate.counters_torque(msg.data):
                self.countered += 1
                self._publish_torque(now, again=True)

    def _foreign(self, topic: str, what: str) -> None:
        for listener in self.foreign_listeners:
            listener(topic, what)

    # ----- outputs -----

    def _send_joints(self, cmd: JointCommand) -> None:
        msg = JointState(name=list(cmd.names), position=list(cmd.position), velocity=list(cmd.velocity))
        msg.header.stamp = self.get_clock().now().to_msg()
        self._joint_pub.publish(msg)
        for listener in self.command_listeners:
            listener(dict(zip(cmd.names, cmd.position, strict=True)))

    def _send_twist(self, t: CoreTwist) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = t.vx, t.vy, t.wz
        self.gate.note_sent("driver/cmd_vel", (t.vx, t.vy, 0.0, 0.0, 0.0, t.wz), time.monotonic())
        self._vel_pub.publish(msg)

    def _send_brake(self, brake: bool, now: float) -> None:
        self._brake = brake
        self.gate.note_sent("driver/brake", brake, now)
        self._brake_pub.publish(Bool(data=brake))

    def _send_hold(self, now: float) -> None:
        joints, twist = self.gate.stop_outputs(now)
        self._send_twist(twist)
        if joints is not None:
            self._send_joints(joints)

    def _publish_brake(self, now: float, again: bool = False) -> None:
        brake = self.gate.is_brake(now)
        if brake != self._brake or (again and brake):
            self._send_brake(brake, now)

    def _publish_torque(self, now: float, again: bool = False) -> None:
        """The drives' torque limit, when the safety state changes it (or ``again``: someone else sent another)."""
        limit = self.gate.torque_limit()
        if limit is not None and (limit != self._torque or again):
            self._torque = limit
            self.gate.note_sent("driver/torque_limit", limit, now)
            self._torque_pub.publish(Float64(data=limit))

    def _hold_timer_for(self, now: float) -> None:
        """The re-send timer runs only while stopped (no wake-ups in normal operation)."""
        stopped = self.gate.blocked_reason(now) is not None
        if stopped and self._hold_timer.is_canceled():
            self._hold_timer.reset()
        elif not stopped and not self._hold_timer.is_canceled():
            self._hold_timer.cancel()

    def _hold_tick(self) -> None:
        """While stopped: brake, zero velocity and hold posture again, at the hold rate."""
        now = time.monotonic()
        if self.gate.blocked_reason(now) is None:
            self._publish_brake(now)
            self._hold_timer.cancel()
            return
        self._publish_brake(now, again=True)
        self._send_hold(now)

    def _watch_tick(self) -> None:
        now = time.monotonic()
        self._check_source(now)
        self._publish_brake(now)  # a stale state turns the brakes on
        self._hold_timer_for(now)
        self._ticks += 1
        if self._ticks % round(1.0 / WATCH_PERIOD) == 0:
            self._diagnostics(now)

    def _diagnostics(self, now: float) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        reason = self.gate.blocked_reason(now)
        arr.status.append(DiagnosticStatus(
            level=DiagnosticStatus.OK if reason is None else DiagnosticStatus.WARN,
            name=f"{self.get_name()}: command gate", hardware_id="sigma_safety",
            message=reason or "passing commands",
            values=[KeyValue(key="passed", value=str(self.passed)), KeyValue(key="blocked", value=str(self.blocked)),
                    KeyValue(key="countered", value=str(self.countered)),
                    KeyValue(key="last_block_reason", value=self.last_block)]))
        self._diag_pub.publish(arr)
