"""twin_node: the thin ROS shell of one robot's digital twin.

Subscribes to ``joint_states``, ``actuator_health``, ``battery_state``, ``imu`` and ``odom`` (each message
converted and handed to ``sigma_twin.core.robot.RobotTwin``); one timer publishes ``twin/health``
(``sigma_interfaces/TwinHealth``) and two ``diagnostics`` entries (the twin; sensor consistency) at
``publish_rate``; the service ``twin/forecast`` runs the what-if Monte Carlo. Parameters come from
``config/twin.yaml`` (declared with descriptors from the core's dataclasses).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import BatteryState, Imu, JointState

from sigma_interfaces.msg import ActuatorHealth, ComponentHealth, TwinHealth
from sigma_interfaces.srv import Forecast
from sigma_ros_common import qos
from sigma_ros_common.callbacks import quiet_on_shutdown, quiet_timer
from sigma_ros_common.inbox import Inbox, take_all
from sigma_ros_common.ros_params import declare_plain, load
from sigma_ros_common.spin import events_executor, run
from sigma_twin.core import raw_cdr
from sigma_twin.core.params import (
    ConsistencyParams,
    EstimatorParams,
    LimitParams,
    NodeParams,
    PrognosisParams,
    SpoofParams,
)
from sigma_twin.core.robot import ComponentHealth as CoreHealth
from sigma_twin.core.robot import RobotTwin

# joint_states/imu/odom: best effort like the sensor profile, but a deep reader queue. With the sensor profile's depth
# 5, an unpaced simulator (IMU at 100 Hz of simulated time, ~1000 samples per wall second on a quiet host) overwrote
# samples while the executor was busy with a forecast; the vibration monitor then saw windows with holes, the 32 Hz
# bearing tone aliased out of its band and the wear was never confirmed (round-4 CI). 2000 samples cover 2 s at that
# pace; the inbox is polled every INBOX_PERIOD.
INBOX_PERIOD = 0.2  # [s] joint_states/imu/odom are taken from their readers this often
SENSOR_BURST = QoSProfile(depth=2000, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT,
                          durability=DurabilityPolicy.VOLATILE)


def _stamp_s(stamp) -> float:
    return float(stamp.sec) + 1e-9 * float(stamp.nanosec)


def _time(seconds: float) -> Time:
    if not math.isfinite(seconds) or seconds < 0:
        return Time()
    return Time(sec=int(seconds), nanosec=int((seconds % 1.0) * 1e9))


def restamp(msg: TwinHealth, t: float) -> None:
    """Between forecasts: the last forecast seen from data time ``t``. Its absolute windows stay; the remaining
    useful life quantiles shrink by the time passed since its stamp, so stamp + q05 is still the window's close
    (a restamped report used to pair a new stamp with the old RUL: a plan 3 minutes off in a fast test)."""
    dt_h = (t - _stamp_s(msg.header.stamp)) / 3600.0
    for c in (*msg.actuators, msg.battery):
        c.rul_q05, c.rul_q50, c.rul_q95 = (q if not math.isfinite(q) else max(0.0, q - dt_h)
                                           for q in (c.rul_q05, c.rul_q50, c.rul_q95))
    msg.header.stamp = _time(t)


def _component(c: CoreHealth) -> ComponentHealth:
    msg = ComponentHealth()
    msg.name, msg.health, msg.confidence = c.name, float(c.health), float(c.confidence)
    msg.rul_q05, msg.rul_q50, msg.rul_q95, msg.risk = (float(c.rul_q05), float(c.rul_q50), float(c.rul_q95),
                                                       float(c.risk))
    msg.dominant_mode = c.dominant
    msg.state_names = list(c.states)
    msg.state_values = [float(v) for v in c.states.values()]
    msg.state_std = [float(c.state_std.get(k, math.nan)) for k in c.states]
    msg.window_start, msg.window_end = _time(c.window_start), _time(c.window_end)
    msg.reasons = list(c.reasons)
    return msg


class TwinNode(Node):
    """One robot's twin: callbacks convert and hand over; one timer reports."""

    def __init__(self) -> None:
        super().__init__("twin")
        est = load(self, EstimatorParams, "estimator")
        limits = load(self, LimitParams, "limits")
        prog = load(self, PrognosisParams, "prognosis")
        spoof = load(self, SpoofParams, "spoof")
        consistency = load(self, ConsistencyParams, "consistency")
        node = load(self, NodeParams)
        rate, self.joint_rate, self.forecast_period = node.publish_rate, node.joint_states_rate, node.forecast_period
        self.cached: TwinHealth | None = None
        self.spoofed_joints: list[str] = []
        self.cached_at = -math.inf
        joints = declare_plain(self, "joints", [""], "joint names (empty: every moving joint of the humanoid URDF)")
        joints = [j for j in joints if j]
        if not joints:
            from sigma_description import humanoid_urdf
            from sigma_description.urdf import load_urdf

            joints = [j.name for j in load_urdf(humanoid_urdf()).moving_joints]
        self.twin = RobotTwin(joints, est, limits, prog, spoof, consistency)
        self.prog = prog
        self.last_joint = -math.inf
        self.pub = self.create_publisher(TwinHealth, "twin/health", qos.LATCHED)
        self.diag = self.create_publisher(DiagnosticArray, "diagnostics", qos.RELIABLE_10)
        # every callback is quiet while Ctrl-C takes the context down: rclpy's EventsExecutor logs whatever a callback
        # raises as FATAL, also the KeyboardInterrupt of a Ctrl-C that lands inside it (one wrapper call per message)
        quiet = partial(quiet_on_shutdown, self.context)
        self.create_subscription(ActuatorHealth, "actuator_health", quiet(self.on_health), qos.RELIABLE_10)
        self.create_subscription(BatteryState, "battery_state", quiet(self.on_battery), qos.RELIABLE_10)
        self.inbox: Inbox | None = None
        self.joints_sub = self.imu_sub = self.odom_sub = None
        self.raw_imu: list[bytes] = []
        self.raw_odom: list[bytes] = []
        if node.raw_sensors:
            # serialized: no Python message is built per sample (their covariance arrays cost most of the time);
            # joint_states deserialized only at joint_states_rate; imu/odom read in one batch per report. None of
            # the three is taken by the executor one by one (250 wake-ups a second): they are polled from an inbox
            # node (sigma_ros_common.inbox) every INBOX_PERIOD, well within what the readers hold (SENSOR_BURST: 2 s
            # of an unpaced simulator)
            self.inbox = Inbox(self)
            self.joints_sub = self.inbox.subscribe(JointState, "joint_states", SENSOR_BURST, raw=True)
            self.imu_sub = self.inbox.subscribe(Imu, "imu", SENSOR_BURST, raw=True)
            self.odom_sub = self.inbox.subscribe(Odometry, "odom", SENSOR_BURST, raw=True)
            self.create_timer(INBOX_PERIOD, quiet_timer(self.context, self.collect_raw))
        else:
            self.create_subscription(JointState, "joint_states", quiet(self.on_joints), qos.SENSOR)
            self.create_subscription(Imu, "imu", quiet(self.on_imu), SENSOR_BURST)
            self.create_subscription(Odometry, "odom", quiet(self.on_odom), SENSOR_BURST)
        self.create_service(Forecast, "twin/forecast", quiet_on_shutdown(self.context, self.on_forecast, service=True))
        self.create_timer(1.0 / rate, quiet_timer(self.context, self.publish))
        self.mc = np.random.default_rng(prog.seed + 1)

    def on_joints(self, msg: JointState) -> None:
        t = _stamp_s(msg.header.stamp)
        if t - self.last_joint < 1.0 / self.joint_rate:
            return
        self.last_joint = t
        self.twin.on_joint_states(t, list(msg.name), msg.position, msg.velocity, msg.effort)

    def on_joints_raw(self, raw: bytes) -> None:
        t = raw_cdr.stamp_of(raw)
        if t - self.last_joint < 1.0 / self.joint_rate:  # NaN compares false: a malformed one is looked at below
            return
        try:
            msg = deserialize_message(raw, JointState)
        except Exception as exc:  # noqa: BLE001 - any decoding failure of foreign bytes is bad input, not a crash
            self.twin.guard.reject("joint_states", f"joint_states: message could not be read ({exc})")
            return
        self.on_joints(msg)

    def collect_raw(self) -> None:
        """Take the serialized samples waiting in the inbox: joint_states to the twin (at joint_states_rate),
        imu/odom into the report's buffers."""
        if self.joints_sub is None or self.imu_sub is None or self.odom_sub is None:
            return
        for raw in take_all(self.joints_sub):
            self.on_joints_raw(raw)
        self.raw_imu += take_all(self.imu_sub)
        self.raw_odom += take_all(self.odom_sub)

    def drain_raw(self) -> None:
        """Hand the buffered serialized imu/odom samples to the twin in one batch each."""
        self.collect_raw()
        if self.raw_imu or self.raw_odom:  # the IMU batch waits for the odometry of the same period (settle)
            imu, self.raw_imu = self.raw_imu, []
            odom, self.raw_odom = self.raw_odom, []
            self.twin.on_imu_batch(*raw_cdr.imu_batch(imu), settle=False)
            self.twin.on_odom_batch(*raw_cdr.odom_batch(odom))

    def destroy_node(self) -> None:
        inbox, self.inbox = getattr(self, "inbox", None), None
        if inbox is not None:
            inbox.destroy()
        super().destroy_node()

    def on_health(self, msg: ActuatorHealth) -> None:
        self.twin.on_actuator_health(_stamp_s(msg.header.stamp), list(msg.name), msg.winding_temperature,
                                     msg.housing_temperature, msg.current)

    def on_battery(self, msg: BatteryState) -> None:
        # sensor_msgs/BatteryState: current negative while discharging; the core wants discharge positive
        self.twin.on_battery(_stamp_s(msg.header.stamp), float(msg.voltage), -float(msg.current))

    def on_imu(self, msg: Imu) -> None:
        w, a = msg.angular_velocity, msg.linear_acceleration
        self.twin.on_imu(_stamp_s(msg.header.stamp), (w.x, w.y, w.z), (a.x, a.y, a.z))

    def on_odom(self, msg: Odometry) -> None:
        tw = msg.twist.twist
        self.twin.on_odom(_stamp_s(msg.header.stamp), float(tw.linear.x), float(tw.angular.z))

    def publish(self) -> None:
        self.drain_raw()
        now = self.get_clock().now()
        wall = now.nanoseconds * 1e-9
        # The report is stamped with the time of the data it describes (the newest input stamp): its windows are
        # in that time base too, so "hours until the window" holds even when the drivers stamp in sim time.
        t = max(self.twin.guard.last_stamp.values(), default=wall)
        # confirmed cross-sensor inconsistencies (hysteresis in the core) are safety inputs: every report carries
        # the current ones beside the joints whose winding sensor contradicts physics
        confirmed = self.twin.confirmed_inconsistencies(t)
        if self.cached is not None and wall - self.cached_at < self.forecast_period:
            restamp(self.cached, t)  # between forecasts: the last one, seen from the newest data
            self.cached.spoofed_sensors = self.spoofed_joints + confirmed
            self.pub.publish(self.cached)
            return
        self.cached_at = wall
        rep = self.twin.report(t)
        msg = TwinHealth()
        msg.header.stamp = _time(t)
        msg.risk_horizon = float(self.prog.risk_horizon)
        msg.actuators = [_component(c) for c in rep.actuators]
        msg.battery = _component(rep.battery)
        self.spoofed_joints = list(rep.spoofed)
        msg.spoofed_sensors = self.spoofed_joints + confirmed
        msg.window_start, msg.window_end = _time(rep.window_start), _time(rep.window_end)
        self.pub.publish(msg)
        self.cached = msg
        worst = min([*rep.actuators, rep.battery], key=lambda c: c.health)
        status = DiagnosticStatus(name=f"{self.get_namespace().strip('/') or 'robot'}: digital twin",
                                  hardware_id="sigma_twin")
        if rep.spoofed:
            status.level, status.message = DiagnosticStatus.ERROR, f"sensor contradicts physics: {rep.spoofed}"
        elif math.isfinite(rep.window_start):
            status.level, status.message = DiagnosticStatus.WARN, f"maintenance due: {worst.name} ({worst.dominant})"
        else:
            status.level, status.message = DiagnosticStatus.OK, "no maintenance within the risk horizon"
        status.values = [KeyValue(key="lowest_health", value=f"{worst.name}={worst.health:.2f}"),
                         KeyValue(key="reasons", value="; ".join(rep.reasons)[:500])]
        self.diag.publish(DiagnosticArray(header=msg.header, status=[status,
                                                                      self._consistency_status(rep, confirmed)]))

    def _consistency_status(self, rep, confirmed: list[str]) -> DiagnosticStatus:
        """IMU vs odometry, battery voltage vs current, IMU vibration: WARN with the reason when one disagrees,
        ERROR once the disagreement is confirmed (then it is a safety input)."""
        status = DiagnosticStatus(name=f"{self.get_namespace().strip('/') or 'robot'}: sensor consistency",
                                  hardware_id="sigma_twin")
        vib = self.twin.vibration.flag
        if rep.inconsistent or vib or confirmed:
            status.level = DiagnosticStatus.ERROR if confirmed else DiagnosticStatus.WARN
            status.message = ("inconsistent: " + ", ".join(rep.inconsistent) if rep.inconsistent else "") + \
                ("; " if rep.inconsistent and vib else "") + ("vibration above its learnt level" if vib else "")
        else:
            status.level, status.message = DiagnosticStatus.OK, "IMU, odometry and battery agree with physics"
        if confirmed:
            status.message = f"confirmed (safety input): {', '.join(confirmed)}; " + status.message
        status.values = [KeyValue(key=k, value=f"{v:.4g}") for k, v in rep.consistency.items()]
        return status

    def on_forecast(self, req: Forecast.Request, res: Forecast.Response) -> Forecast.Response:
        joints = list(req.joints) or self.twin.joints
        unknown = [j for j in joints if j not in self.twin.joints]
        rms = list(req.rms_current)
        horizon = float(req.horizon)
        why = (f"unknown joints {unknown}" if unknown
               else f"{len(rms)} rms_current values for {len(joints)} joints (give one or one per joint)"
               if len(rms) not in (1, len(joints))
               else "rms_current must be finite and >= 0" if not all(math.isfinite(r) and r >= 0 for r in rms)
               else "horizon must be in (0, 1e6] s" if not 0 < horizon <= 1e6
               else "cooling_factor must be >= 1" if not (math.isfinite(req.cooling_factor)
                                                          and req.cooling_factor >= 1.0) else "")
        if why:
            res.success, res.message = False, why
            return res
        i2 = np.zeros(len(self.twin.joints))
        for k, j in enumerate(joints):
            i2[self.twin.joints.index(j)] = (rms[0] if len(rms) == 1 else rms[k]) ** 2
        amb = None if math.isnan(req.ambient_temperature) else float(req.ambient_temperature)
        w = self.twin.actuators.what_if(self.mc, i2, amb, float(req.cooling_factor), horizon)
        idx = [self.twin.joints.index(j) for j in joints]
        res.success, res.message, res.joints = True, "", joints
        res.time_to_limit_q05 = [float(w.q05[i]) for i in idx]
        res.time_to_limit_q50 = [float(w.q50[i]) for i in idx]
        res.time_to_limit_q95 = [float(w.q95[i]) for i in idx]
        res.risk = [float(w.risk[i]) for i in idx]
        return res


def main(args: list[str] | None = None) -> int:
    # the EventsExecutor: far less per-callback overhead on the 100 Hz joint_states stream
    return run("sigma_twin", lambda: [TwinNode()], args, executor_for=lambda _nodes: events_executor(),
               fail_safe=True)


if __name__ == "__main__":
    raise SystemExit(main())
