"""Test-side ROS helpers: a hardware stand-in publishing healthy inputs from the probe, and the node launcher."""

from __future__ import annotations

import math
import threading
from pathlib import Path

from geometry_msgs.msg import Point, Vector3
from helpers import SECRET, URDF, limits
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, Imu, JointState

from sigma_interfaces.msg import (
    ActuatorHealth,
    CognitionDecision,
    DetectedHuman,
    DetectedHumans,
    PolicyHealth,
    SafetyStatus,
)
from sigma_ros_common import qos
from sigma_testing.streamer import Streamer

CONFIG = Path(__file__).resolve().parents[1] / "config" / "safety.yaml"
# Relaxed ages: the test machine is shared and slow; the watchdog logic itself is unit-tested with the defaults.
RELAXED = {f"watchdog.{t}": 1.0 for t in ("joint_states", "imu", "actuator_health", "humans", "odom")}
RELAXED |= {"gate.state_timeout": 1.0, "ai_self_suspension.max_report_age": 1.0}


def start_safety(launch, exe: str = "safety_node", token: str | None = SECRET, **params):
    """Start a sigma_safety executable with the repo config, the fixture URDF and relaxed watchdogs."""
    env = {"SIGMA_SAFETY_RESET_TOKEN": token or ""}
    p = {"urdf_path": str(URDF), **RELAXED, **params}
    return launch("sigma_safety", exe, params_files=[CONFIG], params=p, env=env)


class Hardware:
    """Publishes every supervisor input at ``rate`` Hz from a thread; change the attributes to inject hazards."""

    def __init__(self, probe, rate: float = 50.0, joints: dict | None = None) -> None:
        self.probe = probe
        self.limits = joints or limits()
        self.position = {n: (lim.lower + lim.upper) / 2 for n, lim in self.limits.items()}
        self.effort = dict.fromkeys(self.limits, 0.0)
        self.temperature = dict.fromkeys(self.limits, 40.0)
        self.humans: list[tuple[float, float]] = []
        self.silent: set[str] = set()
        self.confidence = {CognitionDecision.SOURCE_PRIMARY_AI: 0.9, CognitionDecision.SOURCE_EDGE_AI: 0.9}
        self.joint_nan = False
        self.pubs = {
            "joint_states": probe.publisher(JointState, "joint_states", qos.SENSOR),
            "imu": probe.publisher(Imu, "imu", qos.SENSOR),
            "actuator_health": probe.publisher(ActuatorHealth, "actuator_health", qos.reliable(10)),
            "humans": probe.publisher(DetectedHumans, "humans", qos.SENSOR),
            "odom": probe.publisher(Odometry, "odom", qos.SENSOR),
            "battery_state": probe.publisher(BatteryState, "battery_state", qos.reliable(10)),
            "policy_health": probe.publisher(PolicyHealth, "policy_health", qos.reliable(10)),
        }
        self._stop = threading.Event()
        self._period = 1.0 / rate
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Hardware:
        """Start publishing (call ``stop`` in the test's teardown)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop publishing."""
        self._stop.set()
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            if not self.probe.context.ok():
                return
            for topic, msgs in self.messages().items():
                if topic not in self.silent:
                    for msg in msgs:
                        self.pubs[topic].publish(msg)

    def messages(self) -> dict[str, list]:
        """The messages of one round, per input topic, with the current values."""
        names = list(self.limits)
        now = self.probe.node.get_clock().now().to_msg()
        js = JointState(name=names, position=[math.nan if self.joint_nan else self.position[n] for n in names],
                        velocity=[0.0] * len(names), effort=[self.effort[n] for n in names])
        js.header.stamp = now
        imu = Imu()
        imu.header.stamp = now
        imu.orientation.w = 1.0
        imu.linear_acceleration.z = 9.81
        health = ActuatorHealth(name=names, winding_temperature=[self.temperature[n] for n in names],
                                housing_temperature=[30.0] * len(names), current=[1.0] * len(names),
                                supply_voltage=[48.0] * len(names))
        humans = DetectedHumans(humans=[DetectedHuman(id=f"h{i}", position=Point(x=x, y=y), velocity=Vector3(),
                                                      confidence=0.9) for i, (x, y) in enumerate(self.humans)],
                                sensor_range=8.0, field_of_view=2.4)
        odom = Odometry()
        odom.pose.pose.orientation.w = 1.0
        battery = BatteryState(voltage=48.0, percentage=0.8)
        return {"joint_states": [js], "imu": [imu], "actuator_health": [health], "humans": [humans],
                "odom": [odom], "battery_state": [battery],
                "policy_health": [PolicyHealth(source=s, confidence=c, policy_id="test")
                                  for s, c in self.confidence.items()]}


def wait_status(collector, predicate, timeout: float = 15.0) -> SafetyStatus:
    """Wait for a SafetyStatus matching ``predicate``; return it."""
    try:
        msgs = collector.wait_for(lambda ms: any(predicate(m) for m in ms), timeout=timeout)
    except TimeoutError as exc:
        last = collector.latest()
        faults = [(f.code, f.source, f.cause) for f in last.active_faults] if last is not None else None
        raise TimeoutError(f"{exc}; last status: level {getattr(last, 'level', None)}, faults {faults}") from exc
    return next(m for m in reversed(msgs) if predicate(m))


def report_health(probe, topic: str = "policy_health", confidence: float = 0.9) -> Streamer:
    """Both AIs report ``confidence`` at 20 Hz on ``topic``."""
    pub = probe.publisher(PolicyHealth, topic, qos.reliable(10))

    def tick() -> None:
        for source in (CognitionDecision.SOURCE_PRIMARY_AI, CognitionDecision.SOURCE_EDGE_AI):
            pub.publish(PolicyHealth(source=source, confidence=confidence, policy_id="test"))

    return Streamer(tick, 20.0)
