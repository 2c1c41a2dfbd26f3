"""Process-test helpers: the simulator, the safety node and core_node of one robot, and waits on their topics."""

from __future__ import annotations

from pathlib import Path

import yaml
from nav_msgs.msg import Odometry

from sigma_interfaces.msg import CommanderSwitch, SafetyStatus, Task, TaskStatus
from sigma_ros_common import qos
from sigma_ros_common.share import package_share, share_file
from sigma_testing.streamer import Streamer  # noqa: F401 - the tests import it from here

NS = "/r1"
CORE_CONFIG = Path(__file__).resolve().parents[1] / "config" / "core.yaml"
# The test machine is shared and slow: relaxed watchdogs (the logic is unit-tested with the defaults).
SAFETY_RELAXED = {f"watchdog.{t}": 1.0 for t in ("joint_states", "imu", "actuator_health", "humans", "odom")}
SAFETY_RELAXED |= {"gate.state_timeout": 1.0, "ai_self_suspension.max_report_age": 1.0}
CORE_RELAXED = {"selfeval.odom_max_age": 1.0, "selfeval.safety_max_age": 1.0, "selfeval.humans_max_age": 2.0,
                "execution.input_max_age": 1.0, "arbiter.safety_max_age": 1.0}


def world(tmp_path: Path, spawn=(-10.0, 0.0, 0.0)) -> Path:
    """The warehouse with one robot at ``spawn`` and no walking people (only injected ones)."""
    share = package_share("sigma_sim") / "worlds"
    w = yaml.safe_load((share / "warehouse.yaml").read_text())
    w.update(mjcf=str(share / w["mjcf"]), humans=[], spawns=[list(spawn)])
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(w))
    return path


class Stack:
    """sim_node + safety_node + core_node for robot r1, and the probe's view of them."""

    def __init__(self, launch, probe, tmp_path: Path, **core_params) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        history = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.probe = probe
        self.status = probe.subscribe(SafetyStatus, f"{NS}/safety/status", qos.LATCHED)
        self.tasks = probe.subscribe(TaskStatus, f"{NS}/tasks/status", history)
        self.switches = probe.subscribe(CommanderSwitch, f"{NS}/cognition/arbiter", history)
        self.odom = probe.subscribe(Odometry, f"{NS}/odom", qos.SENSOR)
        self.request = probe.publisher(Task, f"{NS}/tasks/request", qos.reliable(20))
        self.sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"], "world": str(world(tmp_path))})
        self.sim.wait_for_output("sigma_sim ready", timeout=60.0)
        self.safety = launch("sigma_safety", "safety_node", namespace=NS,
                             params_files=[share_file("sigma_safety", "config", "safety.yaml")],
                             params=SAFETY_RELAXED, env={"SIGMA_SAFETY_RESET_TOKEN": "test-token-not-secret"})
        self.core = launch("sigma_core", "core_node", namespace=NS, params_files=[CORE_CONFIG],
                           params={**CORE_RELAXED, **core_params})
        self.core.wait_for_output("core ready", timeout=60.0)

    def wait_commander(self, current: int, since: int = 0, timeout: float = 60.0) -> CommanderSwitch:
        msgs = self.switches.wait_for(lambda ms: any(m.current == current and m.sequence > since for m in ms),
                                      timeout=timeout)
        return next(m for m in msgs if m.current == current and m.sequence > since)

    def send(self, task: Task) -> None:
        self.probe.wait_for_subscribers(self.request, 1, timeout=30.0)
        self.request.publish(task)

    def final(self, task_id: str, timeout: float) -> TaskStatus:
        done = (TaskStatus.STATE_SUCCEEDED, TaskStatus.STATE_FAILED, TaskStatus.STATE_CANCELED,
                TaskStatus.STATE_REFUSED, TaskStatus.STATE_PREEMPTED)
        try:
            msgs = self.tasks.wait_for(lambda ms: any(m.task_id == task_id and m.state in done for m in ms),
                                       timeout=timeout)
        except TimeoutError as exc:
            last = [(m.state, m.step, round(m.progress, 2), m.reason) for m in list(self.tasks.messages)[-5:]]
            tail = self.core.output()[-3000:]
            raise TimeoutError(f"{exc}; last task reports {last}; core log tail:\n{tail}") from exc
        return next(m for m in msgs if m.task_id == task_id and m.state in done)

    def steps(self, task_id: str) -> list[str]:
        out: list[str] = []
        for m in list(self.tasks.messages):
            if m.task_id == task_id and m.state == TaskStatus.STATE_ACTIVE and (not out or out[-1] != m.step):
                out.append(m.step)
        return out
