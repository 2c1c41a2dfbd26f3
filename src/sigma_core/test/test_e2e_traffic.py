"""Across processes with the simulator: two robots (each with its own safety node and core_node) drive head-on
along the warehouse's cross aisle and keep the configured separation; neither deadlocks. The distance is judged
from the simulator's odometry of both robots (sampled by the test), not from what the robots say about themselves;
the figure core_node latches on ``traffic/min_separation`` (for the demo summary) is checked against it."""

from __future__ import annotations

import math
import time

import yaml
from nav_msgs.msg import Odometry
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from stack import CORE_CONFIG, CORE_RELAXED, SAFETY_RELAXED
from std_msgs.msg import Float64

from sigma_interfaces.msg import CommanderSwitch, Task, TaskStatus
from sigma_ros_common import qos
from sigma_ros_common.share import package_share, share_file

SEPARATION = 1.5
HISTORY = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
DONE = (TaskStatus.STATE_SUCCEEDED, TaskStatus.STATE_FAILED, TaskStatus.STATE_CANCELED, TaskStatus.STATE_REFUSED,
        TaskStatus.STATE_PREEMPTED)


def _world(tmp_path, spawns):
    share = package_share("sigma_sim") / "worlds"
    w = yaml.safe_load((share / "warehouse.yaml").read_text())
    w.update(mjcf=str(share / w["mjcf"]), humans=[], spawns=[list(s) for s in spawns])
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(w))
    return path


def test_two_robots_head_on_in_the_cross_aisle_keep_the_separation(launch, ros_probe, tmp_path):
    robots = {"r1": ((-10.0, 0.0, 0.0), "-3,0"), "r2": ((-4.0, 0.0, math.pi), "-11,0")}
    world = _world(tmp_path, [spawn for spawn, _ in robots.values()])
    odom = {r: ros_probe.subscribe(Odometry, f"/{r}/odom", qos.SENSOR) for r in robots}
    tasks = {r: ros_probe.subscribe(TaskStatus, f"/{r}/tasks/status", HISTORY) for r in robots}
    switches = {r: ros_probe.subscribe(CommanderSwitch, f"/{r}/cognition/arbiter", HISTORY) for r in robots}
    figure = {r: ros_probe.subscribe(Float64, f"/{r}/traffic/min_separation", qos.LATCHED) for r in robots}
    requests = {r: ros_probe.publisher(Task, f"/{r}/tasks/request", qos.reliable(20)) for r in robots}
    sim = launch("sigma_sim", "sim_node", params={"robots": list(robots), "world": str(world)})
    sim.wait_for_output("sigma_sim ready", timeout=60.0)
    cores, safety = {}, {}
    for r in robots:
        safety[r] = launch("sigma_safety", "safety_node", namespace=f"/{r}",
               params_files=[share_file("sigma_safety", "config", "safety.yaml")], params=SAFETY_RELAXED,
               env={"SIGMA_SAFETY_RESET_TOKEN": "test-token-not-secret"})
        cores[r] = launch("sigma_core", "core_node", namespace=f"/{r}", params_files=[CORE_CONFIG],
                          params={**CORE_RELAXED, "traffic.separation": SEPARATION})
    for r in robots:
        cores[r].wait_for_output("core ready", timeout=60.0)
        cores[r].wait_for_output("following robot", timeout=30.0)     # found the other robot's route
        switches[r].wait_for(lambda ms: any(m.current == 1 for m in ms), timeout=60)   # edge AI commands
    for r, (_spawn, place) in robots.items():
        ros_probe.wait_for_subscribers(requests[r], 1, timeout=30.0)
        requests[r].publish(Task(task_id=f"cross-{r}", issuer="test", kind=Task.KIND_GO_TO, place=place))
    low, deadline = math.inf, time.monotonic() + 240
    finals: dict[str, TaskStatus] = {}
    while time.monotonic() < deadline and len(finals) < len(robots):
        a, b = odom["r1"].latest(), odom["r2"].latest()
        if a is not None and b is not None:
            low = min(low, math.hypot(a.pose.pose.position.x - b.pose.pose.position.x,
                                      a.pose.pose.position.y - b.pose.pose.position.y))
        for r in robots:
            done = [m for m in list(tasks[r].messages) if m.task_id == f"cross-{r}" and m.state in DONE]
            if done:
                finals[r] = done[0]
        time.sleep(0.05)
    print(f"two robots head-on in the cross aisle: smallest centre distance {low:.2f} m "
          f"(separation {SEPARATION} m, from the simulator's odometry)")
    for r in robots:
        assert r in finals, (r, [(m.state, m.step, m.reason) for m in list(tasks[r].messages)[-3:]],
                             cores[r].output()[-2000:], safety[r].output()[-3000:])
        assert finals[r].state == TaskStatus.STATE_SUCCEEDED, (r, finals[r].reason)
    assert low >= SEPARATION - 0.2, low
    reported = min(figure[r].wait_for(lambda ms: bool(ms), timeout=10)[-1].data for r in robots)
    assert abs(reported - low) < 0.3, (reported, low)       # what the robots report is what happened
    log = cores["r2"].output()                                 # r2 has no right of way over r1: it gave way
    assert "traffic: giving way to robot r1" in log or "traffic: clearing out" in log, log[-2000:]
