"""Safety supervisor node: translates inputs into the policy, evaluates on every message and on a timer, and
publishes ``safety/status`` (latched, on change and at ``status_rate``), ``safety/events`` and ``diagnostics``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import BatteryState, Imu, JointState
from std_msgs.msg import Bool

from sigma_interfaces.msg import ActuatorHealth, DetectedHumans, PolicyHealth, SafetyEvent, SafetyStatus
from sigma_interfaces.srv import EmergencyStop, ResetSafety
from sigma_ros_common import qos
from sigma_safety import convert, latch_file
from sigma_safety.core.model import Fault, SafetyState, Severity
from sigma_safety.core.policy import SafetyPolicy
from sigma_safety.settings import SupervisorSettings

INTERNAL_ERROR = 899


class SupervisorNode(Node):
    """Thin shell around ``SafetyPolicy``."""

    def __init__(self, settings_factory: Callable[[Node], SupervisorSettings], **kwargs: Any) -> None:
        super().__init__("safety_supervisor", **kwargs)
        self.settings = settings_factory(self)
        s = self.settings
        self.policy = SafetyPolicy(s.config, s.limits, now=self._now(), site=s.site, reset_secret=s.secret)
        self._restore_latches()
        self.state_listeners: list[Callable[[SafetyState], None]] = []
        self._published: SafetyState | None = None
        self._last_diag = 0.0
        self._status_pub = self.create_publisher(SafetyStatus, "safety/status", qos.LATCHED)
        self._event_pub = self.create_publisher(SafetyEvent, "safety/events", qos.SAFETY_EVENTS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", qos.reliable(10))
        sub = self.create_subscription
        sub(JointState, "joint_states", self._guard("joint_states", self._on_joints), qos.SENSOR)
        sub(Imu, "imu", self._guard("imu", self._on_imu), qos.SENSOR)
        sub(ActuatorHealth, "actuator_health", self._guard("actuator_health", self._on_actuators), qos.reliable(10))
        sub(DetectedHumans, "humans", self._guard("humans", self._on_humans), qos.SENSOR)
        sub(Odometry, "odom", self._guard("odom", self._on_odom), qos.SENSOR)
        sub(BatteryState, "battery_state", self._guard("battery_state", self._on_battery), qos.reliable(10))
        sub(PolicyHealth, "policy_health", self._guard("policy_health", self._on_policy), qos.reliable(10))
        sub(Bool, "safety/estop", self._guard("safety/estop", self._on_estop), qos.reliable(10))
        sub(JointState, "driver/joint_command", self._guard("driver/joint_command", self._on_command), qos.COMMANDS)
        self.create_service(EmergencyStop, "safety/emergency_stop", self._on_emergency_stop)
        self.create_service(ResetSafety, "safety/reset", self._on_reset)
        self.create_timer(1.0 / s.status_rate, self._tick)
        if s.secret is None:
            self.get_logger().warning("no reset token configured: every reset request will be refused")
        self.get_logger().info(f"safety supervisor ready: {len(s.limits)} joints, site "
                               f"{s.site.name if s.site else 'none'}")

    def _restore_latches(self) -> None:
        path = self.settings.latch_file
        self._saved_keys: set[tuple[int, str]] | None = None
        if path is None:
            return
        records = latch_file.load(path)
        if records is None:
            self.policy.restore_failed(f"latch file {path} unreadable", self._now())
        elif records:
            n = self.policy.restore_latched(records, self._now())
            self.get_logger().warning(f"restored {n} latched fault(s) from {path}: an authorized reset is required")
        self._saved_keys = set(self.policy.latched)

    def _save_latches(self) -> None:
        path = self.settings.latch_file
        if path is None or self._saved_keys == set(self.policy.latched):
            return
        try:
            latch_file.save(path, self.policy.latched_records())
            self._saved_keys = set(self.policy.latched)
        except OSError as exc:
            self.get_logger().error(f"cannot save latched faults to {path}: {exc}", throttle_duration_sec=5.0)

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def _guard(self, topic: str, handler: Callable[[Any, float], None]) -> Callable[[Any], None]:
        """Wrap a callback: any unexpected error becomes a protective-stop fault, never a crash."""

        def wrapped(msg: Any) -> None:
            now = self._now()
            try:
                handler(msg, now)
                stale = self.policy.snap.input_faults.get(topic)
                if stale is not None and stale.code == INTERNAL_ERROR:  # this topic's messages work again
                    del self.policy.snap.input_faults[topic]
            except Exception as exc:  # noqa: BLE001 - a safety node must not die on one bad message
                self.policy.snap.input_faults[topic] = Fault(
                    INTERNAL_ERROR, "watchdog", topic, f"{topic}: message could not be processed ({exc!r})",
                    Severity.PROTECTIVE_STOP)
                self.get_logger().error(f"{topic}: {exc!r}", throttle_duration_sec=1.0)
            self.evaluate(now)

        return wrapped

    # ----- input translation -----

    def _on_joints(self, m: JointState, now: float) -> None:
        stamp = m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
        self.policy.update_joints(list(m.name), list(m.position), list(m.velocity), list(m.effort), now, stamp)

    def _on_imu(self, m: Imu, now: float) -> None:
        o, a = m.orientation, m.linear_acceleration
        self.policy.update_imu((o.x, o.y, o.z, o.w), (a.x, a.y, a.z), now)

    def _on_actuators(self, m: ActuatorHealth, now: float) -> None:
        self.policy.update_actuators(list(m.name), list(m.winding_temperature), list(m.current), now)

    def _on_humans(self, m: DetectedHumans, now: float) -> None:
        self.policy.update_humans([(h.position.x, h.position.y, h.velocity.x, h.velocity.y, h.confidence)
                                   for h in m.humans], now)

    def _on_odom(self, m: Odometry, now: float) -> None:
        p, q, t = m.pose.pose.position, m.pose.pose.orientation, m.twist.twist
        self.policy.update_odom(p.x, p.y, (q.x, q.y, q.z, q.w), t.linear.x, t.linear.y, t.angular.z, now)

    def _on_battery(self, m: BatteryState, now: float) -> None:
        self.policy.update_battery(now)

    def _on_policy(self, m: PolicyHealth, now: float) -> None:
        self.policy.update_policy_health(m.source, m.confidence, now)

    def _on_estop(self, m: Bool, now: float) -> None:
        self.policy.set_estop_button(m.data)

    def _on_command(self, m: JointState, now: float) -> None:
        self.policy.update_command(dict(zip(m.name, m.position, strict=False)), now)

    # ----- services -----

    def _on_emergency_stop(self, req: EmergencyStop.Request, res: EmergencyStop.Response) -> EmergencyStop.Response:
        now = self._now()
        res.accepted, res.message = self.policy.emergency_stop(req.reason, req.requester, now)
        self.get_logger().warning(res.message)
        self.evaluate(now)
        return res

    def _on_reset(self, req: ResetSafety.Request, res: ResetSafety.Response) -> ResetSafety.Response:
        now = self._now()
        result = self.policy.reset(req.requester, req.authorization_token, now)
        res.success, res.message = result.success, result.message
        res.blocking_fault_codes = list(result.blocking_codes)
        text = f"reset requested by {req.requester or 'unknown'}: {result.message}"
        if result.success:
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)
        self.evaluate(now)
        return res

    # ----- evaluation and output -----

    def evaluate(self, now: float) -> bool:
        """Evaluate, hand the state to in-process listeners, publish on change and every transition."""
        state = self.policy.evaluate(now)
        transitions = self.policy.take_transitions()
        if transitions:
            self._save_latches()
        if self._published is not None and state.same_decision(self._published) and not transitions:
            return False
        self._publish(state)
        ros_now = self.get_clock().now()
        stamp, secs = ros_now.to_msg(), ros_now.nanoseconds * 1e-9
        for t in transitions:
            self._event_pub.publish(convert.event_msg(t, stamp, secs))
            self.get_logger().info(f"safety {t.previous.level.name} -> {t.current.level.name}, authority "
                                   f"{t.current.authority.name}: {t.cause}")
        return True

    def _publish(self, state: SafetyState) -> None:
        for listener in self.state_listeners:
            listener(state)
        ros_now = self.get_clock().now()
        self._status_pub.publish(convert.status_msg(state, ros_now.to_msg(), ros_now.nanoseconds * 1e-9))
        self._published = state

    def _tick(self) -> None:
        now = self._now()
        if not self.evaluate(now):
            self._publish(self.policy.state)
        if now - self._last_diag >= 1.0:
            self._last_diag = now
            self._diag_pub.publish(convert.diagnostics_msg(self.policy.state, self.get_name(),
                                                           self.get_clock().now().to_msg()))
