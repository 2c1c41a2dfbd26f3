"""Safety supervisor node: translates inputs into the policy, evaluates on every message and on a timer, and
publishes ``safety/status`` (latched, on change and at ``status_rate``), ``safety/events`` and ``diagnostics``.

``joint_states``, ``imu`` and ``odom`` (100/100/50 Hz) are subscribed serialized (``raw=True``) and the fields the
rules use are read straight from the CDR (``sigma_ros_common.cdr``): building rclpy's Python messages was a quarter of
the process's CPU. Bytes that are not the message are an input fault (``MALFORMED``) saying where they broke; an
encapsulation the reader does not know goes through the rmw's own deserializer."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.node import Node
from sensor_msgs.msg import BatteryState, Imu, JointState
from std_msgs.msg import Bool

from sigma_interfaces.msg import ActuatorHealth, DetectedHumans, PolicyHealth, SafetyEvent, SafetyStatus, TwinHealth
from sigma_interfaces.srv import EmergencyStop, ResetSafety
from sigma_ros_common import cdr, qos, serialized
from sigma_ros_common.callbacks import quiet_on_shutdown, quiet_timer
from sigma_safety import convert, latch_file
from sigma_safety.core.graph import Endpoint, ForeignPublisherWatch
from sigma_safety.core.model import Fault, SafetyState, Severity
from sigma_safety.core.policy import SafetyPolicy
from sigma_safety.settings import SupervisorSettings

INTERNAL_ERROR = 899
GATE_NAME = "command_gate"  # the node that alone may publish driver/* (gate_node.GATE_NAME)
DRIVER_TOPICS = ("driver/joint_command", "driver/cmd_vel", "driver/brake", "driver/torque_limit")


class SupervisorNode(Node):
    """Thin shell around ``SafetyPolicy``."""

    def __init__(self, settings_factory: Callable[[Node], SupervisorSettings], *, watch_commands: bool = True,
                 **kwargs: Any) -> None:
        """``watch_commands``: follow the gate's ``driver/joint_command`` on the topic (split deployment); in one
        process the gate hands its targets over in memory instead."""
        super().__init__("safety_supervisor", **kwargs)
        self.settings = settings_factory(self)
        s = self.settings
        self.policy = SafetyPolicy(s.config, s.limits, now=self._now(), site=s.site, reset_secret=s.secret)
        self._restore_latches()
        self.state_listeners: list[Callable[[SafetyState], None]] = []
        self.joint_listeners: list[Callable[[Sequence[str], Sequence[float]], None]] = []  # measured positions
        self._joint_reader = cdr.JointStateReader()
        self._published: SafetyState | None = None
        self._last_diag = 0.0
        self._status_pub = self.create_publisher(SafetyStatus, "safety/status", qos.LATCHED)
        self._event_pub = self.create_publisher(SafetyEvent, "safety/events", qos.SAFETY_EVENTS)
        self._diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", qos.reliable(10))
        sub = self.create_subscription
        sub(JointState, "joint_states", self._guard("joint_states", self._on_joints), qos.SENSOR, raw=True)
        sub(Imu, "imu", self._guard("imu", self._on_imu), qos.SENSOR, raw=True)
        sub(ActuatorHealth, "actuator_health", self._guard("actuator_health", self._on_actuators), qos.reliable(10))
        sub(DetectedHumans, "humans", self._guard("humans", self._on_humans), qos.SENSOR)
        sub(Odometry, "odom", self._guard("odom", self._on_odom), qos.SENSOR, raw=True)
        sub(BatteryState, "battery_state", self._guard("battery_state", self._on_battery), qos.reliable(10))
        sub(PolicyHealth, "policy_health", self._guard("policy_health", self._on_policy), qos.reliable(10))
        sub(Bool, "safety/estop", self._guard("safety/estop", self._on_estop), qos.reliable(10))
        if watch_commands:
            sub(JointState, "driver/joint_command", self._guard("driver/joint_command", self._on_command),
                qos.COMMANDS)
        sub(Bool, "brake_state", self._guard("brake_state", self._on_brake_state), qos.LATCHED)
        sub(TwinHealth, "twin/health", self._guard("twin/health", self._on_twin), qos.LATCHED)
        quiet = self._quiet
        self.create_service(EmergencyStop, "safety/emergency_stop", quiet(self._on_emergency_stop, True))
        self.create_service(ResetSafety, "safety/reset", quiet(self._on_reset, True))
        self.create_timer(1.0 / s.status_rate, quiet_timer(self.context, self._tick))
        ns = self.get_namespace().rstrip("/")
        self.allowed_publishers = {t: f"{ns}/{GATE_NAME}" for t in DRIVER_TOPICS}
        self.allowed_publishers["safety/status"] = f"{ns}/{self.get_name()}"
        self._last_graph = -1e9
        self._publisher_watch = ForeignPublisherWatch()
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

    def _quiet(self, fn: Callable[..., Any], service: bool = False) -> Callable[..., Any]:
        return quiet_on_shutdown(self.context, fn, service=service)

    def _guard(self, topic: str, handler: Callable[[Any, float], None]) -> Callable[[Any], None]:
        """Wrap a callback: any unexpected error becomes a protective-stop fault, never a crash."""

        @self._quiet
        def wrapped(msg: Any) -> None:
            now = self._now()
            try:
                handler(msg, now)
                stale = self.policy.snap.input_faults.get(topic)
                if stale is not None and stale.code == INTERNAL_ERROR:  # this topic's messages work again
                    del self.policy.snap.input_faults[topic]
            except Exception as exc:  # noqa: BLE001 - a safety node must not die on one bad message
                if not self.context.ok():
                    return
                self.policy.snap.input_faults[topic] = Fault(
                    INTERNAL_ERROR, "watchdog", topic, f"{topic}: message could not be processed ({exc!r})",
                    Severity.PROTECTIVE_STOP)
                self.get_logger().error(f"{topic}: {exc!r}", throttle_duration_sec=1.0)
            self.evaluate(now, topic)

        return wrapped

    # ----- input translation -----

    def _read(self, topic: str, raw: bytes, read: Callable[[bytes], Any], msg_type: type,
              fields: Callable[[Any], Any]) -> Any | None:
        """The fields of a serialized message; None (and an input fault saying why) when the bytes are not one."""
        try:
            return serialized.read_or_deserialize(raw, read, msg_type, fields)
        except cdr.CdrError as exc:
            self.policy.reject_input(topic, f"not a {msg_type.__module__.split('.')[0]}/{msg_type.__name__} "
                                     f"({exc})")
            return None

    def _on_joints(self, raw: bytes, now: float) -> None:
        m = self._read("joint_states", raw, self._joint_reader.read, JointState, _joint_fields)
        if m is None:
            return
        stamp, names, position, velocity, effort = m
        self.policy.update_joints(names, position, velocity, effort, now, stamp)
        if len(position) == len(names):
            for listener in self.joint_listeners:
                listener(names, position)

    def _on_imu(self, raw: bytes, now: float) -> None:
        m = self._read("imu", raw, cdr.read_imu, Imu, _imu_fields)
        if m is not None:
            self.policy.update_imu(m[1], m[3], now)

    def _on_actuators(self, m: ActuatorHealth, now: float) -> None:
        self.policy.update_actuators(list(m.name), list(m.winding_temperature), list(m.current), now)

    def _on_humans(self, m: DetectedHumans, now: float) -> None:
        self.policy.update_humans([(h.position.x, h.position.y, h.velocity.x, h.velocity.y, h.confidence)
                                   for h in m.humans], now)

    def _on_odom(self, raw: bytes, now: float) -> None:
        m = self._read("odom", raw, cdr.read_odometry, Odometry, _odom_fields)
        if m is not None:
            _, xyz, q, linear, angular = m
            self.policy.update_odom(xyz[0], xyz[1], q, linear[0], linear[1], angular[2], now)

    def _on_battery(self, m: BatteryState, now: float) -> None:
        self.policy.update_battery(now)

    def _on_twin(self, m: TwinHealth, now: float) -> None:
        self.policy.update_sensor_consistency(list(m.spoofed_sensors), now)

    def _on_policy(self, m: PolicyHealth, now: float) -> None:
        self.policy.update_policy_health(m.source, m.confidence, now)

    def _on_estop(self, m: Bool, now: float) -> None:
        self.policy.set_estop_button(m.data)

    def _on_brake_state(self, m: Bool, now: float) -> None:
        self.policy.update_brake_state(m.data, now)

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

    def evaluate(self, now: float, changed: str | None = None) -> bool:
        """Evaluate (only the rules reading ``changed``, when given), hand the state to in-process listeners first,
        then publish on change and every transition."""
        state = self.policy.evaluate(now, changed)
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

    def report_foreign_command(self, topic: str, what: str) -> None:
        """From the in-process gate: a command on ``topic`` it did not send. Judged (and logged) at once."""
        now = self._now()
        self.policy.report_foreign_command(topic, what, now)
        self.evaluate(now)

    def check_graph(self, now: float) -> None:
        """Who publishes driver/* and safety/status besides the gate and this supervisor (rule 9 decides)."""
        self._last_graph = now
        for topic, allowed in self.allowed_publishers.items():
            pubs = [Endpoint(i.node_namespace, i.node_name, bytes(i.endpoint_gid))
                    for i in self.get_publishers_info_by_topic(topic)]
            self.policy.update_publishers(topic, self._publisher_watch.check(topic, pubs, allowed, now))

    def _tick(self) -> None:
        now = self._now()
        if now - self._last_graph >= self.policy.config.driver_integrity.graph_period:
            self.check_graph(now)
        if not self.evaluate(now):
            self._publish(self.policy.state)
        if now - self._last_diag >= 1.0:
            self._last_diag = now
            self._diag_pub.publish(convert.diagnostics_msg(self.policy.state, self.get_name(),
                                                           self.get_clock().now().to_msg()))


def _stamp(m: Any) -> float:
    return m.header.stamp.sec + m.header.stamp.nanosec * 1e-9


def _joint_fields(m: JointState) -> tuple:
    return _stamp(m), tuple(m.name), tuple(m.position), tuple(m.velocity), tuple(m.effort)


def _imu_fields(m: Imu) -> tuple:
    o, w, a = m.orientation, m.angular_velocity, m.linear_acceleration
    return _stamp(m), (o.x, o.y, o.z, o.w), (w.x, w.y, w.z), (a.x, a.y, a.z)


def _odom_fields(m: Odometry) -> tuple:
    p, q, t = m.pose.pose.position, m.pose.pose.orientation, m.twist.twist
    return (_stamp(m), (p.x, p.y, p.z), (q.x, q.y, q.z, q.w), (t.linear.x, t.linear.y, t.linear.z),
            (t.angular.x, t.angular.y, t.angular.z))
