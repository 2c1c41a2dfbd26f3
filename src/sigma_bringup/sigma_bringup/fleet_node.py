"""The demo's one ROS gateway: watches every robot's safety, runs the scripted tasks, injects the scenario's faults.

All rclpy code of the demo lives here; the orchestrator only calls these methods from its own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import rclpy
from geometry_msgs.msg import Twist, Vector3
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Header

from sigma_bringup.demo_state import FaultView, StatusView
from sigma_bringup.mission import ArmSwing, Shuttle
from sigma_bringup.scenario import RobotTimeline, StatusSample
from sigma_interfaces.msg import CognitionDecision, PolicyHealth, SafetyEvent, SafetyStatus
from sigma_sim_interfaces.srv import InjectFault

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Transient-local like the supervisor's publisher: the events published before this node matched count too.
EVENTS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class FleetNode(Node):
    """Subscribes ``/<id>/safety/status`` and ``safety/events``; publishes edge-AI tasks and confidence."""

    def __init__(self, robots: Sequence[str], context: Context, task_rate: float = 10.0) -> None:
        super().__init__("sigma_demo", context=context)
        self.timelines = {r: RobotTimeline(r) for r in robots}
        self._latest: dict[str, StatusView] = {}
        self._lock = threading.Lock()
        self._task_start: float | None = None
        self._shuttle, self._arms = Shuttle(), ArmSwing()
        self._task_pubs = {}
        self._fault_clients = {}
        for r in robots:
            self.create_subscription(SafetyStatus, f"/{r}/safety/status", lambda m, r=r: self._on_status(r, m), LATCHED)
            self.create_subscription(SafetyEvent, f"/{r}/safety/events", lambda m, r=r: self._on_event(r), EVENTS)
            self._task_pubs[r] = (
                self.create_publisher(PolicyHealth, f"/{r}/policy_health", 10),
                self.create_publisher(Twist, f"/{r}/cmd/edge_ai/cmd_vel", 10),
                self.create_publisher(JointState, f"/{r}/cmd/edge_ai/joint_command", 10),
            )
            self._fault_clients[r] = self.create_client(InjectFault, f"/{r}/sim/inject_fault")
        self.create_timer(1.0 / task_rate, self._tick)

    # -- observation ---------------------------------------------------------------------------------
    def _on_status(self, robot: str, msg: SafetyStatus) -> None:
        sample = StatusSample(
            time.monotonic(),
            msg.level,
            msg.authority,
            msg.speed_scale,
            msg.brake_engaged,
            frozenset(f.code for f in msg.active_faults),
        )
        view = StatusView(msg.level, msg.authority, msg.brake_engaged,
                          tuple(FaultView(f.code, f.rule, f.source, f.cause, f.latched) for f in msg.active_faults))
        with self._lock:
            self.timelines[robot].add(sample)
            self._latest[robot] = view

    def latest_status(self, robot: str) -> StatusView | None:
        """The robot's latest safety status with its faults (None before the first one)."""
        with self._lock:
            return self._latest.get(robot)

    def _on_event(self, robot: str) -> None:
        with self._lock:
            self.timelines[robot].events_seen += 1

    def snapshot(self, robot: str) -> RobotTimeline:
        with self._lock:
            tl = self.timelines[robot]
            return RobotTimeline(tl.robot, list(tl.samples), tl.events_seen)

    # -- the edge AI stand-in ------------------------------------------------------------------------
    def start_tasks(self) -> None:
        self._task_start = time.monotonic()

    def _tick(self) -> None:
        now_msg = self.get_clock().now().to_msg()
        for health_pub, vel_pub, joint_pub in self._task_pubs.values():
            health_pub.publish(
                PolicyHealth(
                    header=Header(stamp=now_msg),
                    source=CognitionDecision.SOURCE_EDGE_AI,
                    policy_id="demo-scripted-mission",
                    confidence=0.9,
                    input_age=0.05,
                )
            )
            if self._task_start is None:
                continue
            t = time.monotonic() - self._task_start
            vel_pub.publish(Twist(linear=Vector3(x=self._shuttle.velocity(t))))
            targets = self._arms.targets(t)
            joint_pub.publish(
                JointState(header=Header(stamp=now_msg), name=list(targets), position=list(targets.values()))
            )

    # -- faults --------------------------------------------------------------------------------------
    def inject(
        self, robot: str, kind: str, target: str, magnitude: float, duration: float, timeout: float = 10.0
    ) -> InjectFault.Response:
        client = self._fault_clients[robot]
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"/{robot}/sim/inject_fault is not available")
        future = client.call_async(
            InjectFault.Request(kind=kind, target=target, magnitude=magnitude, duration=duration)
        )
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"/{robot}/sim/inject_fault did not answer")
            time.sleep(0.01)
        return future.result()


class FleetGateway:
    """Owns the rclpy context and spin thread of :class:`FleetNode`."""

    def __init__(self, robots: Sequence[str]) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = FleetNode(robots, self.context)
        self._executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True, name="fleet-gateway")
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self._executor.spin_once(timeout_sec=0.1)
            except Exception:
                if not self.context.ok():
                    return
                raise

    def close(self) -> None:
        if self.context.ok():
            self._executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
            rclpy.shutdown(context=self.context)
        self._thread.join(timeout=2.0)
