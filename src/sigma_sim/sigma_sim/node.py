"""sim_node: the rclpy shell around sigma_sim.simulation.Simulation.

One process hosts every robot of one world. A single timer (real-time mode) or a single loop (as fast as possible,
with /clock) advances physics and publishes every due topic of every robot, because rclpy wake-ups dominate CPU.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, Imu, JointState
from std_msgs.msg import Bool, Float64

from sigma_interfaces.msg import ActuatorHealth, DetectedHumans
from sigma_ros_common import qos, realtime
from sigma_ros_common.spin import run
from sigma_sim import messages as conv
from sigma_sim.faults import FaultError
from sigma_sim.params import TOPIC_RATES, declare
from sigma_sim.refusals import RefusalLog
from sigma_sim.robot_model import load_actuators, load_urdf
from sigma_sim.simulation import CommandError, SimConfig, Simulation
from sigma_sim.world import load_world
from sigma_sim_interfaces.srv import InjectFault, SetPayload

TYPES = {"joint_states": JointState, "imu": Imu, "odom": Odometry, "actuator_health": ActuatorHealth,
         "battery_state": BatteryState, "humans": DetectedHumans}
# No default QoS-event handlers: with 10 robots their ~180 waitables cost ~3 ms per executor wake-up in rclpy.
NO_PUB_EVENTS = PublisherEventCallbacks(use_default_callbacks=False)
NO_SUB_EVENTS = SubscriptionEventCallbacks(use_default_callbacks=False)
QOS = {"joint_states": qos.SENSOR, "imu": qos.SENSOR, "odom": qos.SENSOR, "humans": qos.SENSOR,
       "actuator_health": qos.RELIABLE_10, "battery_state": qos.RELIABLE_10}


class SimNode(Node):
    """Hosts the simulation and translates between it and each robot's topics and services."""

    def __init__(self) -> None:
        super().__init__("sigma_sim")
        self.params = p = declare(self)
        robot = load_urdf(p.urdf)
        actuators = load_actuators(p.actuators, robot.joint_names)
        world = load_world(p.world)
        cfg = SimConfig(base_mode=p.base_mode, physics_rate=p.physics_rate, seed=p.seed,
                        human_sensor_range=p.human_sensor_range, human_sensor_fov=p.human_sensor_fov)
        self.sim = Simulation(world, robot, actuators, p.robots, cfg)
        self.pubs: dict[tuple[str, str], object] = {}
        self.refusals = RefusalLog(period_s=10.0)
        self.msgs: dict[tuple[str, str], object] = {}
        self.brake_state_pubs: dict[str, object] = {}
        for rid in p.robots:
            for topic, mtype in TYPES.items():
                self.pubs[rid, topic] = self.create_publisher(
                    mtype, f"/{rid}/{topic}", QOS[topic], event_callbacks=NO_PUB_EVENTS)
                self.msgs[rid, topic] = self._template(rid, topic)
            self.create_subscription(JointState, f"/{rid}/driver/joint_command",
                                     lambda m, r=rid: self._on_joint_command(r, m), qos.RELIABLE_10,
                                     event_callbacks=NO_SUB_EVENTS)
            self.create_subscription(Twist, f"/{rid}/driver/cmd_vel",
                                     lambda m, r=rid: self._on_cmd_vel(r, m), qos.RELIABLE_10,
                                     event_callbacks=NO_SUB_EVENTS)
            self.create_subscription(Bool, f"/{rid}/driver/brake", lambda m, r=rid: self._on_brake(r, m), qos.LATCHED,
                                     event_callbacks=NO_SUB_EVENTS)
            self.create_subscription(Float64, f"/{rid}/driver/torque_limit",
                                     lambda m, r=rid: self._on_torque_limit(r, m), qos.LATCHED,
                                     event_callbacks=NO_SUB_EVENTS)
            # What a drive reports back: the brake state it actually applies (latched, on change), so a brake
            # released behind the safety gate's back is visible to the supervisor.
            self.brake_state_pubs[rid] = self.create_publisher(Bool, f"/{rid}/brake_state", qos.LATCHED,
                                                               event_callbacks=NO_PUB_EVENTS)
            self.brake_state_pubs[rid].publish(Bool(data=self.sim.robot(rid).brake))
            self.create_service(InjectFault, f"/{rid}/sim/inject_fault",
                                lambda req, res, r=rid: self._on_fault(r, req, res))
            self.create_service(SetPayload, f"/{rid}/sim/set_payload",
                                lambda req, res, r=rid: self._on_payload(r, req, res))
        self.add_on_set_parameters_callback(self._refuse_changes)
        self.clock_pub = None if p.realtime else self.create_publisher(Clock, "/clock", qos.CLOCK)
        self.tick_rate = min(max(p.rates.values()), p.physics_rate)
        self.next_due = dict.fromkeys(TOPIC_RATES, 0.0)
        self._wall0 = self._wall_start = time.monotonic()
        self._sim0 = 0.0
        self.dropped_s = 0.0  # real-time mode: simulated time skipped because the sim could not keep up
        self.timer = self.create_timer(1.0 / self.tick_rate, self._tick_realtime) if p.realtime else None
        self.get_logger().info(
            f"sigma_sim ready: robots {p.robots}, {len(robot.joints)} joints each, world {world.name}, "
            f"base {p.base_mode}, physics {p.physics_rate:g} Hz, {'real time' if p.realtime else 'unpaced'}"
        )

    def _template(self, rid: str, topic: str):
        msg = TYPES[topic]()
        frame = {"joint_states": "", "imu": f"{rid}/imu_link", "odom": "odom", "humans": f"{rid}/base_link",
                 "actuator_health": "", "battery_state": f"{rid}/base_link"}[topic]
        msg.header.frame_id = frame
        if topic in ("joint_states", "actuator_health"):
            msg.name = list(self.sim.joint_names)
        if topic == "odom":
            msg.child_frame_id = f"{rid}/base_link"
            n = self.sim.cfg.odom_noise
            conv.set_odometry_covariance(msg, n.pose_covariance(), n.twist_covariance())
        if topic == "imu":
            n = self.sim.cfg.imu_noise
            conv.set_imu_covariance(msg, n.gyro_std**2, n.accel_std**2)
        return msg

    def _refuse_changes(self, params: list[Parameter]) -> SetParametersResult:
        names = ", ".join(p.name for p in params)
        return SetParametersResult(successful=False, reason=f"sigma_sim: {names} apply at start-up only; restart")

    # ----------------------------------------------------------------- inputs
    def _on_joint_command(self, rid: str, msg: JointState) -> None:
        try:
            self.sim.set_joint_targets(rid, list(msg.name), list(msg.position), list(msg.velocity) or None)
        except CommandError as exc:
            self._refused(rid, "driver/joint_command", exc)

    def _on_cmd_vel(self, rid: str, msg: Twist) -> None:
        try:
            self.sim.set_base_velocity(rid, msg.linear.x, msg.linear.y, msg.angular.z)
        except CommandError as exc:
            self._refused(rid, "driver/cmd_vel", exc)

    def _on_torque_limit(self, rid: str, msg: Float64) -> None:
        try:
            self.sim.set_torque_limit(rid, msg.data)
        except CommandError as exc:
            self._refused(rid, "driver/torque_limit", exc)
            return
        self.get_logger().info(f"/{rid}: torque limited to {msg.data:.0%} of the actuators' rating")

    def _refused(self, rid: str, topic: str, exc: CommandError) -> None:
        """Log a refused command once (while braked: once per brake engagement), not once per message."""
        braked = self.sim.robot(rid).brake
        log, suppressed = self.refusals.report(rid, topic, braked, time.monotonic(), str(exc))
        if not log:
            return
        if braked:
            self.get_logger().info(f"/{rid}/{topic}: ignored while the brake is engaged (reported once per engagement)")
        else:
            more = f" ({suppressed} more refused since the last report)" if suppressed else ""
            self.get_logger().warning(f"/{rid}/{topic} rejected, not applied: {exc}{more}")

    def _on_brake(self, rid: str, msg: Bool) -> None:
        if self.sim.robot(rid).brake == bool(msg.data):
            return  # the safety gate re-asserts the brake while stopped: nothing changes
        self.sim.set_brake(rid, bool(msg.data))
        if not msg.data:  # the next engagement reports its ignored commands again
            self.refusals.brake_released(rid)
        self.brake_state_pubs[rid].publish(Bool(data=self.sim.robot(rid).brake))
        self.get_logger().info(f"/{rid}: brake {'engaged' if msg.data else 'released'}")

    def _on_fault(self, rid: str, req: InjectFault.Request, res: InjectFault.Response) -> InjectFault.Response:
        try:
            fault = self.sim.inject_fault(rid, req.kind, req.target, req.magnitude, req.duration)
        except (FaultError, CommandError) as exc:
            res.accepted, res.message = False, str(exc)
            self.get_logger().error(f"/{rid}/sim/inject_fault refused: {exc}")
            return res
        res.accepted, res.fault_id = True, fault.id
        res.message = f"{fault.kind} on {fault.target or rid} (magnitude {fault.magnitude:g}) from t={fault.start:.3f}s"
        self.get_logger().info(f"/{rid}: injected {res.message}")
        return res

    def _on_payload(self, rid: str, req: SetPayload.Request, res: SetPayload.Response) -> SetPayload.Response:
        try:
            res.message, res.accepted = self.sim.set_payload(rid, req.mass), True
            self.get_logger().info(f"/{rid}: {res.message}")
        except CommandError as exc:
            res.accepted, res.message = False, str(exc)
            self.get_logger().error(f"/{rid}/sim/set_payload refused: {exc}")
        return res

    # ----------------------------------------------------------------- stepping
    def _tick_realtime(self) -> None:
        behind = (time.monotonic() - self._wall0) - (self.sim.time - self._sim0)
        n = int(behind / self.sim.dt)
        if n > self.params.max_catch_up_steps:  # cannot keep up: drop the backlog rather than spiral
            self._wall0 += (n - self.params.max_catch_up_steps) * self.sim.dt
            self.dropped_s += (n - self.params.max_catch_up_steps) * self.sim.dt
            n = self.params.max_catch_up_steps
            self.get_logger().warning("cannot keep up with real time: dropping backlog (too many robots or "
                                      "too little CPU)", throttle_duration_sec=5.0)
        if n > 0:
            self.sim.step(n)
            self.publish_due(self.get_clock().now().to_msg())

    def summary(self) -> str:
        """One line: simulated vs wall time since start, and any backlog dropped in real-time mode."""
        wall = time.monotonic() - self._wall_start
        return (f"sigma_sim summary: sim_time={self.sim.time:.3f}s wall={wall:.3f}s "
                f"ratio={self.sim.time / max(wall, 1e-9):.3f} dropped={self.dropped_s:.3f}s")

    def advance_unpaced(self) -> None:
        """As fast as possible: one publishing period of physics, then /clock and the due topics."""
        self.sim.step(max(1, round(self.params.physics_rate / self.tick_rate)))
        stamp = conv.stamp_from(self.sim.time)
        self.clock_pub.publish(Clock(clock=stamp))
        self.publish_due(stamp)

    def publish_due(self, stamp) -> None:
        """Publish every topic whose period has elapsed in simulated time, for every robot."""
        now = self.sim.time
        for topic, rate in self.params.rates.items():
            if now + 1e-9 < self.next_due[topic]:
                continue
            self.next_due[topic] = max(self.next_due[topic] + 1.0 / rate, now)
            for rid in self.params.robots:
                if not self.sim.silenced(rid, topic):
                    self.pubs[rid, topic].publish(self._fill(rid, topic, stamp))

    def _fill(self, rid: str, topic: str, stamp):
        msg, sim = self.msgs[rid, topic], self.sim
        if topic == "joint_states":
            return conv.fill_joint_state(msg, stamp, *sim.joint_state(rid))
        if topic == "imu":
            return conv.fill_imu(msg, stamp, *sim.imu(rid))
        if topic == "odom":
            return conv.fill_odom(msg, stamp, *sim.odometry_reading(rid))
        if topic == "actuator_health":
            return conv.fill_health(msg, stamp, *sim.actuator_health(rid))
        if topic == "battery_state":
            return conv.fill_battery(msg, stamp, sim.robot(rid).battery)
        return conv.fill_humans(msg, stamp, sim.detections(rid), sim.cfg.human_sensor_range, sim.cfg.human_sensor_fov)


def main(args: list[str] | None = None) -> int:
    """Entry point of ``sim_node``: real-time mode spins the timer; unpaced mode steps physics between callbacks."""

    def unpaced_step(nodes: Sequence[Node]) -> Callable[[], None] | None:
        sim_node = nodes[0]
        assert isinstance(sim_node, SimNode)
        return None if sim_node.params.realtime else sim_node.advance_unpaced

    def start(nodes: Sequence[Node]) -> None:
        sim_node = nodes[0]
        assert isinstance(sim_node, SimNode)
        # paced to the wall clock: sensor timing must not depend on the host's load
        realtime.apply_nice(sim_node.get_logger(), sim_node.params.nice if sim_node.params.realtime else 0)

    def summary(nodes: Sequence[Node]) -> None:
        for n in nodes:
            if isinstance(n, SimNode):
                print(n.summary(), file=sys.stderr, flush=True)

    return run("sim_node", lambda: [SimNode()], args, step_for=unpaced_step, on_start=start,
               on_exit=summary)


if __name__ == "__main__":
    sys.exit(main())
