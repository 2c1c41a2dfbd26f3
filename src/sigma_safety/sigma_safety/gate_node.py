"""Command gate node: the only publisher of ``driver/*``. Every command from ``cmd/<authority>/*`` is filtered by
``CommandGate``; on entering a stop it immediately sends the hold posture, a zero base velocity and the brake."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Twist
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from sigma_interfaces.msg import SafetyStatus
from sigma_ros_common import qos
from sigma_safety import convert
from sigma_safety.core.gate import CommandGate, GateParams, JointCommand, Verdict
from sigma_safety.core.gate import Twist as CoreTwist
from sigma_safety.core.model import Authority, SafetyState
from sigma_safety.core.urdf import JointLimit

AUTHORITY_TOPICS = {Authority.PRIMARY_AI: "primary_ai", Authority.EDGE_AI: "edge_ai"}


class GateNode(Node):
    """Thin shell around ``CommandGate``."""

    def __init__(self, settings_factory: Callable[[Node], tuple[GateParams, dict[str, JointLimit]]],
                 follow_status: bool = True, **kwargs: Any) -> None:
        super().__init__("command_gate", **kwargs)
        params, limits = settings_factory(self)
        self.gate = CommandGate(params, limits)
        self.command_listeners: list[Callable[[dict[str, float]], None]] = []
        self.passed = 0
        self.blocked = 0
        self.last_block = ""
        self._brake: bool | None = None
        self._joint_pub = self.create_publisher(JointState, "driver/joint_command", qos.COMMANDS)
        self._vel_pub = self.create_publisher(Twist, "driver/cmd_vel", qos.COMMANDS)
        self._brake_pub = self.create_publisher(Bool, "driver/brake", qos.LATCHED)
        self._diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", qos.reliable(10))
        for auth, name in AUTHORITY_TOPICS.items():
            self.create_subscription(JointState, f"cmd/{name}/joint_command",
                                     lambda m, a=auth: self._on_joint_command(a, m), qos.COMMANDS)
            self.create_subscription(Twist, f"cmd/{name}/cmd_vel", lambda m, a=auth: self._on_cmd_vel(a, m),
                                     qos.COMMANDS)
        if follow_status:  # in-process, the supervisor hands states over directly (and in order)
            self.create_subscription(SafetyStatus, "safety/status", self._on_status, qos.LATCHED)
        self.create_subscription(JointState, "joint_states", self._on_joint_states, qos.SENSOR)
        self.create_timer(1.0 / params.hold_rate, self._tick)
        self.create_timer(1.0, self._diagnostics)
        self._publish_brake(time.monotonic())
        self.get_logger().info(f"command gate ready: {len(limits)} joints")

    def apply_state(self, state: SafetyState) -> None:
        """Adopt a safety state (from the in-process supervisor or ``safety/status``)."""
        now = time.monotonic()
        stopping = self.gate.set_state(state, now)
        self._publish_brake(now)  # brakes first: the fastest way to stop
        if stopping:
            self._send_hold()

    def _on_status(self, msg: SafetyStatus) -> None:
        self.apply_state(convert.state_from_msg(msg, time.monotonic()))

    def _on_joint_states(self, msg: JointState) -> None:
        if len(msg.position) == len(msg.name):
            self.gate.set_measured(list(msg.name), list(msg.position))

    def _count(self, verdict: Verdict) -> None:
        if verdict.passed:
            self.passed += 1
        else:
            self.blocked += 1
            self.last_block = verdict.reason
            self.get_logger().debug(f"blocked: {verdict.reason}")

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

    def _send_joints(self, cmd: JointCommand) -> None:
        msg = JointState(name=list(cmd.names), position=list(cmd.position), velocity=list(cmd.velocity))
        msg.header.stamp = self.get_clock().now().to_msg()
        self._joint_pub.publish(msg)
        for listener in self.command_listeners:
            listener(dict(zip(cmd.names, cmd.position, strict=True)))

    def _send_twist(self, t: CoreTwist) -> None:
        msg = Twist()
        msg.linear.x, msg.linear.y, msg.angular.z = t.vx, t.vy, t.wz
        self._vel_pub.publish(msg)

    def _send_hold(self) -> None:
        joints, twist = self.gate.hold_outputs()
        self._send_twist(twist)
        if joints is not None:
            self._send_joints(joints)

    def _publish_brake(self, now: float) -> None:
        brake = self.gate.is_brake(now)
        if brake != self._brake:
            self._brake = brake
            self._brake_pub.publish(Bool(data=brake))

    def _tick(self) -> None:
        now = time.monotonic()
        if self.gate.blocked_reason(now) is not None:
            self._send_hold()
        self._publish_brake(now)

    def _diagnostics(self) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        reason = self.gate.blocked_reason(time.monotonic())
        arr.status.append(DiagnosticStatus(
            level=DiagnosticStatus.OK if reason is None else DiagnosticStatus.WARN,
            name=f"{self.get_name()}: command gate", hardware_id="sigma_safety",
            message=reason or "passing commands",
            values=[KeyValue(key="passed", value=str(self.passed)), KeyValue(key="blocked", value=str(self.blocked)),
                    KeyValue(key="last_block_reason", value=self.last_block)]))
        self._diag_pub.publish(arr)
